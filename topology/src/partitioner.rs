//! The partitioner: murmur2 of the key, exactly as the Java client computes it.
//!
//! Kafka's default partitioner (and librdkafka's `murmur2_random`) map a key
//! to `(murmur2(key) & 0x7fffffff) % partitions`. Using the same function
//! means a Java, Python or kcat producer writing a root's commands lands them
//! in the same partition our workers own for that root.

/// Kafka's murmur2 (seed `0x9747b28c`), as in `org.apache.kafka.common.utils.Utils.murmur2`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= (rest[2] as u32) << 16;
    }
    if rest.len() >= 2 {
        h ^= (rest[1] as u32) << 8;
    }
    if !rest.is_empty() {
        h ^= rest[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition of `key` among `partitions` (the Java client's `toPositive(murmur2) % n`).
pub fn partition_for(key: &[u8], partitions: u32) -> u32 {
    assert!(partitions > 0, "a topic has at least one partition");
    ((murmur2(key) & 0x7fff_ffff) as u32) % partitions
}

/// The record key of an aggregate root: its canonical hyphenated UUID text, so
/// kcat and any client can filter by the same string they see in headers.
pub fn root_key(root: &uuid::Uuid) -> String {
    root.hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from the Java client's `UtilsTest.testMurmur2`.
    #[test]
    fn matches_java_client() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
            (b"abc", 479470107),
        ];
        for (input, want) in cases {
            assert_eq!(murmur2(input), want, "murmur2({:?})", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn partition_is_stable_and_in_range() {
        for i in 0..1000u32 {
            let k = format!("key-{i}");
            let p = partition_for(k.as_bytes(), 12);
            assert!(p < 12);
            assert_eq!(p, partition_for(k.as_bytes(), 12));
        }
    }
}
