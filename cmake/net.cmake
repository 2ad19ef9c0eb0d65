# The net layer's wire messages (src/net/hegraph.proto) are encoded with protobuf-c; the C code
# is generated at build time, like the onnx layer's, and compiled without our warnings.
pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET libprotobuf-c)
find_program(HG_PROTOC_C protoc-c REQUIRED)

set(HG_NET_PROTO ${PROJECT_SOURCE_DIR}/src/net/hegraph.proto)
set(HG_NET_GEN_DIR ${PROJECT_BINARY_DIR}/generated/net)
add_custom_command(
  OUTPUT ${HG_NET_GEN_DIR}/hegraph.pb-c.c ${HG_NET_GEN_DIR}/hegraph.pb-c.h
  COMMAND ${CMAKE_COMMAND} -E make_directory ${HG_NET_GEN_DIR}
  COMMAND ${HG_PROTOC_C} --proto_path=${PROJECT_SOURCE_DIR}/src/net --c_out=${HG_NET_GEN_DIR}
          ${HG_NET_PROTO}
  DEPENDS ${HG_NET_PROTO}
  COMMENT "Generating protobuf-c code from src/net/hegraph.proto"
  VERBATIM)
set_source_files_properties(${HG_NET_GEN_DIR}/hegraph.pb-c.c PROPERTIES GENERATED TRUE
                            COMPILE_OPTIONS "-w")
set(HG_GENERATED_net ${HG_NET_GEN_DIR}/hegraph.pb-c.c ${HG_NET_GEN_DIR}/hegraph.pb-c.h)
set(HG_LIBS_net PkgConfig::PROTOBUFC)
