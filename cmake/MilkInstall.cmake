# Install rules: what `cmake --install` puts under the prefix so that an
# outside project can `find_package(milk)` and call milk_add_contract():
#
#   bin/milkc                          (installed by codegen/CMakeLists.txt)
#   lib/libmilk.a                      the runtime, exported as milk::runtime
#   include/milk/*.hpp                 the runtime's public headers
#   lib/cmake/milk/milkConfig.cmake    + milkConfigVersion.cmake, milkTargets*.cmake,
#                                      MilkAddContract.cmake
#
# tests/install/ installs the build tree into a scratch prefix and builds a
# small outside project against it.

include(CMakePackageConfigHelpers)

set(MILK_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/milk")

install(TARGETS milk_runtime EXPORT milkTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# The whole public header directory: generated headers include the runtime
# headers and the session support header (milk/session.hpp) from here.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/userland/include/milk"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")

install(EXPORT milkTargets
  NAMESPACE milk::
  DESTINATION "${MILK_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/milkConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/milkConfig.cmake"
  INSTALL_DESTINATION "${MILK_INSTALL_CMAKEDIR}"
  PATH_VARS CMAKE_INSTALL_BINDIR)

# Before 1.0 a minor release may change generated code and the wire format,
# so only the same major.minor is compatible.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/milkConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)

install(FILES
  "${PROJECT_BINARY_DIR}/milkConfig.cmake"
  "${PROJECT_BINARY_DIR}/milkConfigVersion.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/MilkAddContract.cmake"
  DESTINATION "${MILK_INSTALL_CMAKEDIR}")
