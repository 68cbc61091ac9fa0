# Generates C++ (protoc --cpp_out) and gRPC C++ (grpc_cpp_plugin, only for
# files that declare a service) code from the repository's proto/ folder at
# build time, and compiles it into the static library angzarr::proto.
#
#   angzarr_proto_library(<target> PROTO_DIR <dir> [SUBDIRS angzarr examples google/api]
#                         [FILES angzarr_kafka/batch.proto ...])
#
# SUBDIRS: every .proto of these folders; FILES: single files (relative to
# PROTO_DIR) of folders not taken whole, e.g. angzarr_kafka/batch.proto
# without the coordinators' internal angzarr_kafka/owner.proto.
#
# Every generated file depends on every .proto (imports make that the safe
# rule), on protoc and on the plugin, so an edited .proto regenerates and
# nothing regenerates otherwise.

function(angzarr_proto_library target)
  cmake_parse_arguments(ARG "" "PROTO_DIR" "SUBDIRS;FILES" ${ARGN})
  if(NOT ARG_PROTO_DIR)
    message(FATAL_ERROR "angzarr_proto_library: PROTO_DIR is required")
  endif()
  if(NOT ARG_SUBDIRS)
    set(ARG_SUBDIRS angzarr examples google/api)
  endif()

  # protoc, and the well-known types' .proto files (Debian: libprotobuf-dev).
  if(TARGET protobuf::protoc)
    set(protoc $<TARGET_FILE:protobuf::protoc>)
    set(protoc_dep protobuf::protoc)
  else()
    find_program(ANGZARR_PROTOC protoc REQUIRED)
    set(protoc ${ANGZARR_PROTOC})
    set(protoc_dep ${ANGZARR_PROTOC})
  endif()
  find_program(ANGZARR_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
  find_path(ANGZARR_WKT_INCLUDE google/protobuf/any.proto
            HINTS ${Protobuf_INCLUDE_DIRS} /usr/include /usr/local/include REQUIRED)

  set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/${target}-gen)
  file(MAKE_DIRECTORY ${gen_dir})

  set(rel_protos)
  foreach(sub IN LISTS ARG_SUBDIRS)
    file(GLOB found RELATIVE ${ARG_PROTO_DIR} CONFIGURE_DEPENDS ${ARG_PROTO_DIR}/${sub}/*.proto)
    list(APPEND rel_protos ${found})
  endforeach()
  foreach(rel IN LISTS ARG_FILES)
    if(NOT EXISTS ${ARG_PROTO_DIR}/${rel})
      message(FATAL_ERROR "angzarr_proto_library: ${ARG_PROTO_DIR}/${rel} is missing")
    endif()
    list(APPEND rel_protos ${rel})
  endforeach()
  list(REMOVE_DUPLICATES rel_protos)
  list(SORT rel_protos)
  set(abs_protos)
  foreach(rel IN LISTS rel_protos)
    list(APPEND abs_protos ${ARG_PROTO_DIR}/${rel})
  endforeach()

  set(sources)
  foreach(rel IN LISTS rel_protos)
    string(REGEX REPLACE "\\.proto$" "" base ${rel})
    set(outputs ${gen_dir}/${base}.pb.cc ${gen_dir}/${base}.pb.h)
    set(args --cpp_out=${gen_dir})
    file(STRINGS ${ARG_PROTO_DIR}/${rel} services REGEX "^[ \t]*service[ \t]")
    if(services)
      list(APPEND outputs ${gen_dir}/${base}.grpc.pb.cc ${gen_dir}/${base}.grpc.pb.h)
      list(APPEND args --grpc_out=${gen_dir} --plugin=protoc-gen-grpc=${ANGZARR_GRPC_CPP_PLUGIN})
    endif()
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND ${protoc} -I ${ARG_PROTO_DIR} -I ${ANGZARR_WKT_INCLUDE} ${args} ${rel}
      WORKING_DIRECTORY ${ARG_PROTO_DIR}
      DEPENDS ${abs_protos} ${protoc_dep} ${ANGZARR_GRPC_CPP_PLUGIN}
      COMMENT "protoc ${rel}"
      VERBATIM)
    list(APPEND sources ${outputs})
  endforeach()

  add_library(${target} STATIC ${sources})
  target_include_directories(${target} SYSTEM PUBLIC ${gen_dir})
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf gRPC::grpc++)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  # Generated code is not ours to lint.
  target_compile_options(${target} PRIVATE -w)
endfunction()
