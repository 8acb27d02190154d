# cmake -DBUILD_DIR=... -DPREFIX=... [-DCONFIG=...] -P install_prefix.cmake
#
# Installs the build tree into a fresh PREFIX and checks that everything an
# outside project needs is there.
cmake_minimum_required(VERSION 3.25)
foreach(var BUILD_DIR PREFIX)
  if(NOT ${var})
    message(FATAL_ERROR "install_prefix.cmake: ${var} not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${PREFIX}")
set(config_args)
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${config_args}
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${status}")
endif()

# Where GNUInstallDirs puts libraries depends on the prefix it was configured
# for (lib, lib64 or lib/<multiarch>), so look for the package file instead of
# assuming a directory.
file(GLOB_RECURSE config_files "${PREFIX}/*/milkConfig.cmake")
list(LENGTH config_files count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "expected one milkConfig.cmake under ${PREFIX}, found: ${config_files}")
endif()
cmake_path(GET config_files PARENT_PATH package_dir)
cmake_path(GET package_dir PARENT_PATH cmake_dir)
cmake_path(GET cmake_dir PARENT_PATH lib_dir)

set(expected
  "${PREFIX}/bin/milkc"
  "${lib_dir}/libmilk.a"
  "${PREFIX}/include/milk/channel.hpp"
  "${PREFIX}/include/milk/result.hpp"
  "${package_dir}/milkConfigVersion.cmake"
  "${package_dir}/milkTargets.cmake"
  "${package_dir}/MilkAddContract.cmake")
foreach(file IN LISTS expected)
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "not installed: ${file}")
  endif()
endforeach()
message(STATUS "installed into ${PREFIX}; package files in ${package_dir}")
