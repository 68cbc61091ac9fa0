package dev.angzarr.client;

/**
 * Something {@link AngzarrServer} can host: an {@link Aggregate} (served as {@code
 * angzarr.CommandHandlerService}), a {@link Saga} ({@code angzarr.SagaService}) or a {@link
 * Projector} ({@code angzarr.ProjectorService}).
 *
 * <pre>{@code
 * AngzarrServer.start("127.0.0.1:50051", playerAggregate, paymentSaga, ledgerProjector);
 * }</pre>
 */
public sealed interface Component permits Aggregate, Saga, Projector {
  /** The component's name: the domain of an aggregate, the given name of a saga or projector. */
  String name();

  /**
   * {@code "aggregate"}, {@code "saga"} or {@code "projector"}, as in {@code
   * angzarr.ComponentDescriptor.component_type}.
   */
  String componentType();
}
