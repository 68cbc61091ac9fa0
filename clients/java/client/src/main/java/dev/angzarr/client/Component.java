package dev.angzarr.client;

/**
 * Something {@link AngzarrServer} can host: an {@link Aggregate} (served as {@code
 * angzarr.CommandHandlerService}), a {@link Saga} ({@code angzarr.SagaService}), a {@link
 * Projector} ({@code angzarr.ProjectorService}), a {@link ProcessManager} ({@code
 * angzarr.ProcessManagerService}) or an {@link Upcaster} ({@code angzarr.UpcasterService}).
 *
 * <pre>{@code
 * AngzarrServer.start("127.0.0.1:50051", playerAggregate, paymentSaga, ledgerProjector);
 * }</pre>
 */
public sealed interface Component permits Aggregate, Saga, Projector, ProcessManager, Upcaster {
  /** The component's name: the domain of an aggregate, the given name of the others. */
  String name();

  /**
   * {@code "aggregate"}, {@code "saga"}, {@code "projector"}, {@code "process_manager"} or {@code
   * "upcaster"}, as in {@code
   * angzarr.ComponentDescriptor.component_type}.
   */
  String componentType();
}
