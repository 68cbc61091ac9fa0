"""The angzarr contract as Python modules, generated from ``proto/`` when the
package is built (see :mod:`angzarr_client.codegen`).

- ``angzarr_client.proto.angzarr``: package ``angzarr`` (``types_pb2``,
  ``command_handler_pb2``, ``command_handler_pb2_grpc``, ...)
- ``angzarr_client.proto.examples``: package ``examples`` (``player_pb2``, ...)
- ``angzarr_client.proto.google.api``: ``google.api`` HTTP annotations
"""
