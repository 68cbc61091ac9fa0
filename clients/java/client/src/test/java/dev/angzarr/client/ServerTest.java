package dev.angzarr.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.Int32Value;
import com.google.protobuf.Int64Value;
import com.google.protobuf.StringValue;
import com.google.protobuf.UInt32Value;
import dev.angzarr.proto.BusinessResponse;
import dev.angzarr.proto.CommandHandlerServiceGrpc;
import dev.angzarr.proto.ContextualCommand;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.ReplayRequest;
import dev.angzarr.proto.Snapshot;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The service over a real gRPC server on 127.0.0.1, on a port the system picks. */
class ServerTest {
  AngzarrServer server;
  ManagedChannel channel;
  CommandHandlerServiceGrpc.CommandHandlerServiceBlockingStub stub;

  @BeforeEach
  void start() throws Exception {
    server = AngzarrServer.start("127.0.0.1:0", Counter.aggregate());
    assertTrue(server.port() > 0);
    channel = Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(), InsecureChannelCredentials.create()).build();
    stub = CommandHandlerServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
  }

  Status.Code code(ContextualCommand request) {
    return assertThrows(StatusRuntimeException.class, () -> stub.handle(request)).getStatus().getCode();
  }

  @Test
  void handleOverTheWire() {
    BusinessResponse r = stub.handle(AggregateTest.request(AggregateTest.history(1, 2), Int32Value.of(3)));
    assertEquals(AggregateTest.COVER, r.getEvents().getCover());
    assertEquals(2, r.getEvents().getPages(0).getHeader().getSequence());
    assertEquals(Any.pack(UInt32Value.of(3)), r.getEvents().getPages(0).getEvent());
    assertEquals(Any.pack(Int64Value.of(6)), r.getEvents().getSnapshot().getState());
  }

  @Test
  void statusesOverTheWire() {
    StatusRuntimeException rejected = assertThrows(StatusRuntimeException.class,
        () -> stub.handle(AggregateTest.request(AggregateTest.history(), Int32Value.of(-1))));
    assertEquals(Status.Code.FAILED_PRECONDITION, rejected.getStatus().getCode());
    assertEquals("amount must be positive", rejected.getStatus().getDescription());

    assertEquals(Status.Code.INVALID_ARGUMENT, code(AggregateTest.request(AggregateTest.history(), UInt32Value.of(1))));
    assertEquals(Status.Code.INTERNAL, code(AggregateTest.request(AggregateTest.history(), StringValue.of("boom"))));

    ContextualCommand elsewhere = AggregateTest.request(AggregateTest.history(), Int32Value.of(1)).toBuilder()
        .setCommand(AggregateTest.request(AggregateTest.history(), Int32Value.of(1)).getCommand().toBuilder()
            .setCover(Cover.newBuilder().setDomain("table")))
        .build();
    assertEquals(Status.Code.NOT_FOUND, code(elsewhere));

    // The service is still up after all of that.
    assertEquals(1, stub.handle(AggregateTest.request(AggregateTest.history(), Int32Value.of(1))).getEvents().getPagesCount());
  }

  @Test
  void replayFoldsEventsOntoASnapshot() {
    ReplayRequest request = ReplayRequest.newBuilder()
        .setBaseSnapshot(Snapshot.newBuilder().setSequence(0).setState(Any.pack(Int64Value.of(10))))
        .addEvents(AggregateTest.page(1, UInt32Value.of(5)))
        .build();
    assertEquals(Any.pack(Int64Value.of(15)), stub.replay(request).getState());
  }

  @Test
  void addresses() {
    assertEquals(50051, AngzarrServer.parseAddress("127.0.0.1:50051").getPort());
    assertEquals("127.0.0.1", AngzarrServer.parseAddress("50052").getHostString());
    assertTrue(AngzarrServer.parseAddress("[::1]:1").getAddress() instanceof java.net.Inet6Address);
    assertThrows(IllegalArgumentException.class, () -> AngzarrServer.parseAddress("localhost:http"));
  }
}
