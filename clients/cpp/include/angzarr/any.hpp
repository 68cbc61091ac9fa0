// google.protobuf.Any as the framework writes it: type URL
// "type.googleapis.com/<full name>" and a deterministic encoding, so the same
// message packs to the same bytes in every language.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>

#include <string>
#include <type_traits>

#include "angzarr/errors.hpp"

namespace angzarr {

/// Prefix of every Any type URL the framework writes.
inline constexpr const char* kTypeUrlPrefix = "type.googleapis.com/";

/// The full proto name in a type URL: everything after the last '/'.
inline std::string type_name(const std::string& type_url) {
  auto slash = type_url.rfind('/');
  return slash == std::string::npos ? type_url : type_url.substr(slash + 1);
}

/// The full proto name of M, e.g. "examples.DepositFunds".
template <class M>
const std::string& full_name() {
  static_assert(std::is_base_of_v<google::protobuf::Message, M>, "M must be a generated protobuf message");
  return M::descriptor()->full_name();
}

/// "type.googleapis.com/<full name>" of m's type.
inline std::string type_url(const google::protobuf::Message& m) {
  return kTypeUrlPrefix + m.GetDescriptor()->full_name();
}

/// m encoded deterministically (map entries sorted by key).
inline std::string serialize_deterministic(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!m.SerializeToCodedStream(&coded) || coded.HadError()) {
      throw internal_error("cannot serialize " + m.GetDescriptor()->full_name());
    }
  }
  return out;
}

/// m packed into an Any named "type.googleapis.com/<full name>", encoded
/// deterministically.
inline google::protobuf::Any pack(const google::protobuf::Message& m) {
  google::protobuf::Any any;
  any.set_type_url(type_url(m));
  any.set_value(serialize_deterministic(m));
  return any;
}

/// Whether any holds an M.
template <class M>
bool is(const google::protobuf::Any& any) {
  return type_name(any.type_url()) == full_name<M>();
}

/// The M packed in any; INVALID_ARGUMENT if it holds another type or does
/// not decode.
template <class M>
M unpack(const google::protobuf::Any& any) {
  if (!is<M>(any)) {
    throw invalid_argument("expected " + full_name<M>() + ", got `" + any.type_url() + "`");
  }
  M m;
  if (!m.ParseFromString(any.value())) throw invalid_argument("malformed " + full_name<M>());
  return m;
}

}  // namespace angzarr
