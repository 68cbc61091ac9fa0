package dev.angzarr.client;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import dev.angzarr.proto.CommandBook;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What a {@link ProcessManager} does about one trigger event: process events to record (its own
 * history, folded into its state) and commands for other aggregates. Immutable: {@link #record}
 * and {@link #send} return a new reaction.
 *
 * <pre>{@code
 * return Reaction.none()
 *     .record(HandFlowStarted.newBuilder().setHandRoot(e.getHandRoot()).build())
 *     .send(Commands.to("hand", handRoot, deal));
 * }</pre>
 */
public final class Reaction {
  private static final Reaction NONE = new Reaction(List.of(), List.of());

  private final List<Any> events;
  private final List<CommandBook> commands;

  private Reaction(List<Any> events, List<CommandBook> commands) {
    this.events = List.copyOf(events);
    this.commands = List.copyOf(commands);
  }

  /** Nothing to do. */
  public static Reaction none() {
    return NONE;
  }

  /** Records process event {@code event} (a message or a packed {@link Any}). */
  public Reaction record(Message event) {
    Objects.requireNonNull(event, "event");
    List<Any> more = new ArrayList<>(events);
    more.add(TypeUrls.pack(event));
    return new Reaction(more, commands);
  }

  /**
   * Issues {@code command}, usually made with {@link Commands#to}. A page header left unset is
   * stamped by the coordinator; an explicit sequence (e.g. from {@link Trigger#destination}) is kept.
   */
  public Reaction send(CommandBook command) {
    Objects.requireNonNull(command, "command");
    List<CommandBook> more = new ArrayList<>(commands);
    more.add(command);
    return new Reaction(events, more);
  }

  /** The recorded process events, packed, in order. */
  public List<Any> events() {
    return events;
  }

  /** The commands, in order. */
  public List<CommandBook> commands() {
    return commands;
  }

  @Override
  public String toString() {
    return "Reaction[" + events.size() + " event(s), " + commands.size() + " command(s)]";
  }
}
