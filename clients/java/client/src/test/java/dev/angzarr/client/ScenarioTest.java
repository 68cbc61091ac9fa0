package dev.angzarr.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.Int32Value;
import com.google.protobuf.Int64Value;
import com.google.protobuf.StringValue;
import com.google.protobuf.UInt32Value;
import dev.angzarr.client.testing.Scenario;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

class ScenarioTest {
  final Scenario<Int64Value> counted = Scenario.of(Counter.aggregate()).given(UInt32Value.of(2), UInt32Value.of(3));

  @Test
  void givenWhenThenEvents() {
    counted.when(Int32Value.of(4))
        .thenEvents(UInt32Value.of(4))
        .thenState(s -> assertEquals(9, s.getValue()));
    assertEquals(5, counted.state().getValue(), "given returns a new scenario; the old one is unchanged");
    assertEquals(UInt32Value.of(4), counted.when(Int32Value.of(4)).event(UInt32Value.class));
  }

  @Test
  void givenWhenThenRejection() {
    counted.when(Int32Value.of(0)).thenRejected("amount must be positive");
    assertEquals("amount must be positive", counted.when(Int32Value.of(0)).rejection());
    counted.when(StringValue.of("boom")).thenFailed(Status.Code.INTERNAL);
    assertEquals(5, counted.when(Int32Value.of(0)).state().getValue());
  }

  @Test
  void failedExpectationsAreAssertionErrors() {
    assertThrows(AssertionError.class, () -> counted.when(Int32Value.of(1)).thenRejected("x"));
    assertThrows(AssertionError.class, () -> counted.when(Int32Value.of(1)).thenEvents(UInt32Value.of(2)));
    assertThrows(AssertionError.class, () -> counted.when(Int32Value.of(0)).thenEvents(UInt32Value.of(0)));
    assertThrows(AssertionError.class, () -> counted.when(StringValue.of("boom")).rejection());
  }
}
