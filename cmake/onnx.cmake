# The onnx layer reads ModelProto and TensorProto with protobuf-c. The C code is generated at
# build time from the onnx.proto that Debian's libonnx-dev installs, so that the schema always
# matches the ONNX release of the machine; generated code is compiled without our warnings.
pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET libprotobuf-c)
find_program(HG_PROTOC_C protoc-c REQUIRED)
find_file(HG_ONNX_PROTO onnx.proto PATHS /usr/include/onnx NO_DEFAULT_PATH REQUIRED)

set(HG_ONNX_GEN_DIR ${PROJECT_BINARY_DIR}/generated/onnx)
add_custom_command(
  OUTPUT ${HG_ONNX_GEN_DIR}/onnx.pb-c.c ${HG_ONNX_GEN_DIR}/onnx.pb-c.h
  COMMAND ${CMAKE_COMMAND} -E make_directory ${HG_ONNX_GEN_DIR}
  COMMAND ${HG_PROTOC_C} --proto_path=/usr/include/onnx --c_out=${HG_ONNX_GEN_DIR} ${HG_ONNX_PROTO}
  DEPENDS ${HG_ONNX_PROTO}
  COMMENT "Generating protobuf-c code from ${HG_ONNX_PROTO}"
  VERBATIM)
set_source_files_properties(${HG_ONNX_GEN_DIR}/onnx.pb-c.c PROPERTIES GENERATED TRUE
                            COMPILE_OPTIONS "-w")
set(HG_GENERATED_onnx ${HG_ONNX_GEN_DIR}/onnx.pb-c.c ${HG_ONNX_GEN_DIR}/onnx.pb-c.h)
set(HG_LIBS_onnx PkgConfig::PROTOBUFC)
