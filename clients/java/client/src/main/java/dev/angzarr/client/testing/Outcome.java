package dev.angzarr.client.testing;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.angzarr.client.TypeUrls;
import dev.angzarr.proto.BusinessResponse;
import io.grpc.Status;
import java.util.List;
import java.util.function.Consumer;

/**
 * What a command produced in a {@link Scenario}: the accepted events, or the status the
 * coordinator would report. Its {@code then...} methods throw {@link AssertionError}, so they work
 * with any test framework.
 */
public final class Outcome<S extends Message> {
  private final List<Any> events;
  private final Status status;
  private final S state;
  private final BusinessResponse response;

  Outcome(List<Any> events, Status status, S state, BusinessResponse response) {
    this.events = List.copyOf(events);
    this.status = status;
    this.state = state;
    this.response = response;
  }

  /** Whether the command was accepted. */
  public boolean accepted() {
    return status == null;
  }

  /** The failure status; {@code null} when accepted. */
  public Status status() {
    return status;
  }

  /** The whole reply; {@code null} when not accepted. */
  public BusinessResponse response() {
    return response;
  }

  /** The state after the new events (unchanged when not accepted). */
  public S state() {
    return state;
  }

  /** The accepted events, packed. */
  public List<Any> events() {
    if (!accepted()) {
      throw new AssertionError("expected events, the command failed: " + describe(status));
    }
    return events;
  }

  /** The first new event of type {@code E}. */
  public <E extends Message> E event(Class<E> type) {
    String name = TypeUrls.typeName(type);
    for (Any any : events()) {
      if (TypeUrls.typeName(any).equals(name)) {
        return unpack(any, type);
      }
    }
    throw new AssertionError("no " + name + " among " + typeNames());
  }

  /** The rejection reason; fails unless the command was rejected ({@code FAILED_PRECONDITION}). */
  public String rejection() {
    if (status == null) {
      throw new AssertionError("expected a rejection, the command was accepted with " + typeNames());
    }
    if (status.getCode() != Status.Code.FAILED_PRECONDITION) {
      throw new AssertionError("expected a rejection (FAILED_PRECONDITION), got " + describe(status));
    }
    return status.getDescription();
  }

  /** Asserts that the new events are exactly {@code expected}, in order. */
  public Outcome<S> thenEvents(Message... expected) {
    List<Any> actual = events();
    if (actual.size() != expected.length) {
      throw new AssertionError("expected " + expected.length + " event(s), got " + typeNames());
    }
    for (int i = 0; i < expected.length; i++) {
      Message want = expected[i];
      Any got = actual.get(i);
      Any packed = TypeUrls.pack(want);
      if (!got.getTypeUrl().equals(packed.getTypeUrl())) {
        throw new AssertionError("event " + i + ": expected " + packed.getTypeUrl() + ", got " + got.getTypeUrl());
      }
      Message decoded = want instanceof Any ? got : unpack(got, want.getClass());
      if (!decoded.equals(want)) {
        throw new AssertionError("event " + i + ": expected <" + want + "> but was <" + decoded + ">");
      }
    }
    return this;
  }

  /** Asserts that the command was rejected with a reason containing {@code reason}. */
  public Outcome<S> thenRejected(String reason) {
    String actual = rejection();
    if (actual == null || !actual.contains(reason)) {
      throw new AssertionError("expected a rejection containing \"" + reason + "\", got \"" + actual + "\"");
    }
    return this;
  }

  /** Asserts that the command failed with {@code code} (e.g. {@code INVALID_ARGUMENT}). */
  public Outcome<S> thenFailed(Status.Code code) {
    if (status == null || status.getCode() != code) {
      throw new AssertionError("expected " + code + ", got " + (status == null ? "accepted " + typeNames() : describe(status)));
    }
    return this;
  }

  /** Runs assertions of your own on the state after the command. */
  public Outcome<S> thenState(Consumer<S> check) {
    check.accept(state);
    return this;
  }

  private List<String> typeNames() {
    return events.stream().map(TypeUrls::typeName).toList();
  }

  private static String describe(Status status) {
    return status.getCode() + ": " + status.getDescription();
  }

  @SuppressWarnings("unchecked")
  private static <E extends Message> E unpack(Any any, Class<? extends Message> type) {
    try {
      return (E) any.unpack(type);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("event " + any.getTypeUrl() + " does not decode: " + e.getMessage(), e);
    }
  }
}
