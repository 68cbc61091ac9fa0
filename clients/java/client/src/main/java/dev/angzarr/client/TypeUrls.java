package dev.angzarr.client;

import com.google.protobuf.Any;
import com.google.protobuf.Internal;
import com.google.protobuf.Message;

/** Type URLs of packed messages: {@code type.googleapis.com/<full name>}. */
public final class TypeUrls {
  /** The prefix every angzarr client uses. */
  public static final String PREFIX = "type.googleapis.com/";

  private TypeUrls() {}

  /** The full proto name in a type URL: what follows the last {@code /}. */
  public static String typeName(String typeUrl) {
    int slash = typeUrl.lastIndexOf('/');
    return slash < 0 ? typeUrl : typeUrl.substring(slash + 1);
  }

  /** The full proto name of a packed message. */
  public static String typeName(Any any) {
    return typeName(any.getTypeUrl());
  }

  /** The full proto name of a generated message class, e.g. {@code examples.DepositFunds}. */
  public static String typeName(Class<? extends Message> type) {
    return defaultInstance(type).getDescriptorForType().getFullName();
  }

  /** Packs {@code message} (an {@link Any} is returned as it is). */
  public static Any pack(Message message) {
    if (message instanceof Any) {
      return (Any) message;
    }
    return Any.pack(message);
  }

  static <M extends Message> M defaultInstance(Class<M> type) {
    return Internal.getDefaultInstance(type);
  }
}
