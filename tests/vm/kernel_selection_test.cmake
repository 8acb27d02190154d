# kernel.selection: which kernels milk.ko is built for, and the configure-time
# messages for kernels it cannot be built for (kernel-stubs/MilkKernel.cmake),
# run against made-up /lib/modules and /boot trees:
#
#   cmake -DMILK_SOURCE_DIR=<source> -DWORK=<scratch dir> -P kernel_selection_test.cmake
#
# Each case configures in a process of its own (a configure error ends the
# process), through a small script that includes MilkKernel.cmake with
# MILK_KERNEL_ROOT pointing at the made-up tree and prints what it chose.
if(NOT MILK_SOURCE_DIR OR NOT WORK)
  message(FATAL_ERROR "usage: cmake -DMILK_SOURCE_DIR=<source> -DWORK=<dir> -P kernel_selection_test.cmake")
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

# A kernel's headers as Kbuild and MilkKernel.cmake see them (a Makefile and
# version.h), and optionally the image the VM tests boot.
function(make_kernel root release major minor image)
  set(build "${root}/lib/modules/${release}/build")
  file(WRITE "${build}/Makefile" "# made up\n")
  file(WRITE "${build}/include/generated/uapi/linux/version.h"
       "#define LINUX_VERSION_CODE 0\n#define LINUX_VERSION_MAJOR ${major}\n#define LINUX_VERSION_PATCHLEVEL ${minor}\n")
  if(image)
    file(WRITE "${root}/boot/vmlinuz-${release}" "")
  endif()
endfunction()

file(WRITE "${WORK}/select.cmake" "cmake_minimum_required(VERSION 3.25)
include(\"${MILK_SOURCE_DIR}/kernel-stubs/MilkKernel.cmake\")
message(STATUS \"RESULT found=\${MILK_KERNEL_HEADERS_FOUND} releases=\${MILK_KERNEL_RELEASES_FOUND} primary=\${MILK_KERNEL_RELEASE_FOUND}\")
")

set(failures 0)
# Runs one case; `expect_ok` is ON when configuring must succeed; every
# further argument is a text the output must contain.
function(check name root release require_all expect_ok)
  execute_process(
    COMMAND "${CMAKE_COMMAND}" "-DMILK_KERNEL_ROOT=${root}" "-DMILK_KERNEL_RELEASE=${release}"
            "-DMILK_KERNEL_REQUIRE_ALL=${require_all}" -P "${WORK}/select.cmake"
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(text "${out}${err}")
  # CMake wraps long messages; compare with single spaces.
  string(REGEX REPLACE "[ \t\r\n]+" " " text "${text}")
  set(ok TRUE)
  if(expect_ok AND NOT status EQUAL 0)
    set(ok FALSE)
    message("FAIL ${name}: configuring failed")
  elseif(NOT expect_ok AND status EQUAL 0)
    set(ok FALSE)
    message("FAIL ${name}: configuring succeeded, an error was expected")
  endif()
  foreach(wanted IN LISTS ARGN)
    string(FIND "${text}" "${wanted}" at)
    if(at EQUAL -1)
      set(ok FALSE)
      message("FAIL ${name}: the output lacks '${wanted}'")
    endif()
  endforeach()
  if(ok)
    message(STATUS "PASS ${name}")
  else()
    message("  output: ${text}")
    math(EXPR failures "${failures} + 1")
    set(failures ${failures} PARENT_SCOPE)
  endif()
endfunction()

# Both supported series, an older 6.1 release, an unsupported 6.18, and a
# 6.12 whose release name does not start with its version.
set(all "${WORK}/all")
make_kernel("${all}" 6.1.0-56-amd64 6 1 ON)
make_kernel("${all}" 6.1.0-57-amd64 6 1 ON)
make_kernel("${all}" 6.12.118+deb12-amd64 6 12 ON)
make_kernel("${all}" 6.18.1-amd64 6 18 ON)
check(default-builds-every-supported-kernel "${all}" "" OFF ON
  "releases=6.12.118+deb12-amd64;6.1.0-57-amd64 primary=6.12.118+deb12-amd64"
  "milk.ko can be built for 6.12.118+deb12-amd64, 6.1.0-57-amd64"
  "kernel 6.18.1-amd64 (Linux 6.18) has headers but milk.ko supports Linux 6.1, 6.12; no milk.ko for it"
  "kernel 6.1.0-56-amd64 skipped: a newer Linux 6.1 release is installed")
check(require-all-met "${all}" "" ON ON "releases=6.12.118+deb12-amd64;6.1.0-57-amd64")
check(named-release "${all}" "6.1.0-56-amd64" OFF ON "releases=6.1.0-56-amd64 primary=6.1.0-56-amd64")
check(named-releases-first-is-primary "${all}" "6.1.0-57-amd64;6.12.118+deb12-amd64" OFF ON
  "releases=6.1.0-57-amd64;6.12.118+deb12-amd64 primary=6.1.0-57-amd64")
check(named-unsupported-is-an-error "${all}" "6.18.1-amd64" OFF OFF
  "MILK_KERNEL_RELEASE names 6.18.1-amd64, a Linux 6.18 kernel; milk.ko supports Linux 6.1, 6.12")
check(named-without-headers-is-an-error "${all}" "6.12.99+deb12-amd64" OFF OFF
  "MILK_KERNEL_RELEASE names 6.12.99+deb12-amd64, whose headers are not installed"
  "Install linux-headers-6.12.99+deb12-amd64")

# 6.12's headers without its image: built, not primary; CI's
# MILK_KERNEL_REQUIRE_ALL refuses it. The series comes from version.h.
set(headers_only "${WORK}/headers-only")
make_kernel("${headers_only}" 6.1.0-57-amd64 6 1 ON)
make_kernel("${headers_only}" custom 6 12 OFF)
check(headers-without-image "${headers_only}" "" OFF ON
  "releases=6.1.0-57-amd64;custom primary=6.1.0-57-amd64")
check(require-all-refuses-a-missing-image "${headers_only}" "" ON OFF
  "no Linux 6.12 kernel with both headers and a /boot/vmlinuz was found")

# No kernel at all: the module is off, with a message, not an error.
file(MAKE_DIRECTORY "${WORK}/none/lib/modules")
check(no-kernel "${WORK}/none" "" OFF ON "found=FALSE releases= primary="
  "no headers of a supported kernel (Linux 6.1, 6.12)")

if(failures GREATER 0)
  message(FATAL_ERROR "kernel selection: ${failures} case(s) failed")
endif()
message(STATUS "kernel selection: all cases passed")
