# The encrypted backend reads JSON parameter files with cJSON (Debian's libcjson-dev).
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
set(HG_LIBS_he PkgConfig::CJSON)
