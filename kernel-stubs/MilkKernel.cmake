# Finds the installed kernels milk.ko is built for. Included from the
# top-level CMakeLists.txt before the MILK_BUILD_KERNEL option, whose default
# is MILK_KERNEL_HEADERS_FOUND.
#
# milk.ko supports the kernel series of MILK_KERNEL_SUPPORTED_SERIES: Debian
# 12's 6.1 and 6.12 (Debian 13's kernel, which bookworm also carries). Each
# is built and tested in CI (docs/kernel.md, "Kernels").
#
# MILK_KERNEL_RELEASE (cache) chooses:
#   empty (default)    every supported kernel whose headers are installed:
#                      the newest release of each series. A kernel of
#                      another series is skipped with a message.
#   release[;release]  exactly these (a CMake list). A release without
#                      headers, or of an unsupported series, is a configure
#                      error that says so.
# milk.ko is built once per release, each in its own staged tree; CTest runs
# the VM suite and the DKMS test on each (tests/vm/CMakeLists.txt).
#
# Sets, in the including scope:
#   MILK_KERNEL_HEADERS_FOUND   TRUE when at least one kernel was found
#   MILK_KERNEL_RELEASES_FOUND  the releases, the primary one first
#   MILK_KERNEL_RELEASE_FOUND   the primary release: the newest that has a
#                               /boot/vmlinuz (the VM tests boot it), or else
#                               the newest; the benchmark and the checks that
#                               need one kernel use it
#   MILK_KERNEL_BUILD_DIR       its /lib/modules/<release>/build
#   MILK_KO_FILE                its milk.ko (kernel-stubs/kbuild/milk.ko)
# and defines milk_kernel_stage_dir(<release> <var>) (the staged tree a
# release is built in) and milk_kernel_id(<release> <var>) (the release as a
# target or test name: `+` becomes `_`).
#
# No release is ever hard-coded: Debian renames them with every update.
# MILK_KERNEL_ROOT (a plain variable, empty) stands for / in the paths
# searched; only tests/kernel/kernel_selection_test.cmake sets it, to run
# this file against made-up kernels.
set(MILK_KERNEL_SUPPORTED_SERIES 6.1 6.12)
set(MILK_KERNEL_RELEASE "" CACHE STRING
    "Kernel releases to build milk.ko for, a list (empty: every supported installed kernel with headers)")

# The series (major.minor) of an installed kernel's headers, from the
# headers' own version.h (a release name need not start with its version),
# or "" when the release has no headers.
function(_milk_kernel_series release out_var)
  set(series "")
  set(build_dir "${MILK_KERNEL_ROOT}/lib/modules/${release}/build")
  set(version_h "${build_dir}/include/generated/uapi/linux/version.h")
  if(EXISTS "${build_dir}/Makefile" AND EXISTS "${version_h}")
    file(STRINGS "${version_h}" version_lines REGEX "^#define LINUX_VERSION_(MAJOR|PATCHLEVEL) ")
    string(REGEX MATCH "MAJOR ([0-9]+)" _ "${version_lines}")
    set(major "${CMAKE_MATCH_1}")
    string(REGEX MATCH "PATCHLEVEL ([0-9]+)" _ "${version_lines}")
    set(minor "${CMAKE_MATCH_1}")
    if(NOT major STREQUAL "" AND NOT minor STREQUAL "")
      set(series "${major}.${minor}")
    endif()
  elseif(EXISTS "${build_dir}/Makefile")
    string(REGEX MATCH "^[0-9]+\\.[0-9]+" series "${release}")
  endif()
  set(${out_var} "${series}" PARENT_SCOPE)
endfunction()

function(milk_kernel_id release out_var)
  string(REGEX REPLACE "[^A-Za-z0-9._-]" "_" id "${release}")
  set(${out_var} "${id}" PARENT_SCOPE)
endfunction()

# The primary release builds in kernel-stubs/kbuild, the tree every other
# part of the build (DKMS, sparse, the benchmark) has always used; another
# release in kernel-stubs/kbuild-<release>, a copy of that tree's sources.
function(milk_kernel_stage_dir release out_var)
  if(release STREQUAL MILK_KERNEL_RELEASE_FOUND)
    set(${out_var} "${PROJECT_BINARY_DIR}/kernel-stubs/kbuild" PARENT_SCOPE)
  else()
    milk_kernel_id("${release}" id)
    set(${out_var} "${PROJECT_BINARY_DIR}/kernel-stubs/kbuild-${id}" PARENT_SCOPE)
  endif()
endfunction()

string(REPLACE ";" ", " _milk_supported_text "${MILK_KERNEL_SUPPORTED_SERIES}")
set(_milk_kernel_releases "")
if(MILK_KERNEL_RELEASE)
  foreach(_milk_release IN LISTS MILK_KERNEL_RELEASE)
    _milk_kernel_series("${_milk_release}" _milk_series)
    if(_milk_series STREQUAL "")
      message(FATAL_ERROR "milk: MILK_KERNEL_RELEASE names ${_milk_release}, whose headers are not installed "
                          "(no ${MILK_KERNEL_ROOT}/lib/modules/${_milk_release}/build/Makefile). Install linux-headers-${_milk_release}, "
                          "or leave MILK_KERNEL_RELEASE empty to build for every supported installed kernel.")
    endif()
    if(NOT _milk_series IN_LIST MILK_KERNEL_SUPPORTED_SERIES)
      message(FATAL_ERROR "milk: MILK_KERNEL_RELEASE names ${_milk_release}, a Linux ${_milk_series} kernel; "
                          "milk.ko supports Linux ${_milk_supported_text} (docs/kernel.md, \"Kernels\", says what "
                          "supporting another series takes).")
    endif()
    list(APPEND _milk_kernel_releases "${_milk_release}")
  endforeach()
else()
  # `build` is a symbolic link into /usr/src; a dangling one (headers
  # removed, image kept) has no Makefile behind it.
  file(GLOB _milk_kernel_dirs LIST_DIRECTORIES true ${MILK_KERNEL_ROOT}/lib/modules/*)
  set(_milk_candidates "")
  foreach(_milk_dir IN LISTS _milk_kernel_dirs)
    get_filename_component(_milk_release "${_milk_dir}" NAME)
    if(EXISTS "${_milk_dir}/build/Makefile")
      list(APPEND _milk_candidates "${_milk_release}")
    endif()
  endforeach()
  list(SORT _milk_candidates COMPARE NATURAL ORDER DESCENDING)
  set(_milk_series_taken "")
  foreach(_milk_release IN LISTS _milk_candidates)
    _milk_kernel_series("${_milk_release}" _milk_series)
    if(NOT _milk_series IN_LIST MILK_KERNEL_SUPPORTED_SERIES)
      message(STATUS "milk: kernel ${_milk_release} (Linux ${_milk_series}) has headers but milk.ko supports "
                     "Linux ${_milk_supported_text}; no milk.ko for it")
    elseif(_milk_series IN_LIST _milk_series_taken)
      message(STATUS "milk: kernel ${_milk_release} skipped: a newer Linux ${_milk_series} release is installed "
                     "(name it in MILK_KERNEL_RELEASE to build for it too)")
    else()
      list(APPEND _milk_series_taken "${_milk_series}")
      list(APPEND _milk_kernel_releases "${_milk_release}")
    endif()
  endforeach()
endif()

# The primary release first: the first (newest, or first named) that has a
# /boot/vmlinuz to boot, or else the first.
set(MILK_KERNEL_RELEASE_FOUND "")
foreach(_milk_release IN LISTS _milk_kernel_releases)
  if(EXISTS "${MILK_KERNEL_ROOT}/boot/vmlinuz-${_milk_release}")
    set(MILK_KERNEL_RELEASE_FOUND "${_milk_release}")
    break()
  endif()
endforeach()
if(NOT MILK_KERNEL_RELEASE_FOUND AND _milk_kernel_releases)
  list(GET _milk_kernel_releases 0 MILK_KERNEL_RELEASE_FOUND)
endif()
set(MILK_KERNEL_RELEASES_FOUND "")
if(MILK_KERNEL_RELEASE_FOUND)
  list(REMOVE_ITEM _milk_kernel_releases "${MILK_KERNEL_RELEASE_FOUND}")
  set(MILK_KERNEL_RELEASES_FOUND "${MILK_KERNEL_RELEASE_FOUND}" ${_milk_kernel_releases})
endif()

set(MILK_KERNEL_HEADERS_FOUND FALSE)
set(MILK_KERNEL_BUILD_DIR "")
if(MILK_KERNEL_RELEASE_FOUND)
  set(MILK_KERNEL_HEADERS_FOUND TRUE)
  set(MILK_KERNEL_BUILD_DIR "${MILK_KERNEL_ROOT}/lib/modules/${MILK_KERNEL_RELEASE_FOUND}/build")
  string(REPLACE ";" ", " _milk_releases_text "${MILK_KERNEL_RELEASES_FOUND}")
  message(STATUS "milk: milk.ko can be built for ${_milk_releases_text}")
else()
  message(STATUS "milk: no headers of a supported kernel (Linux ${_milk_supported_text}) under ${MILK_KERNEL_ROOT}/lib/modules/*/build; "
                 "milk.ko and its VM tests are off (on Debian: bash scripts/install-deps.sh)")
endif()
set(MILK_KO_FILE "${PROJECT_BINARY_DIR}/kernel-stubs/kbuild/milk.ko")

# CI (scripts/test.sh) sets MILK_KERNEL_REQUIRE_ALL so that a kernel that
# went missing (a renamed package, headers without an image) fails the run
# at configure time instead of quietly leaving its tests out.
option(MILK_KERNEL_REQUIRE_ALL
       "Fail configuring unless milk.ko can be built and VM-tested for every supported kernel series" OFF)
if(MILK_KERNEL_REQUIRE_ALL)
  foreach(_milk_series IN LISTS MILK_KERNEL_SUPPORTED_SERIES)
    set(_milk_series_found FALSE)
    foreach(_milk_release IN LISTS MILK_KERNEL_RELEASES_FOUND)
      _milk_kernel_series("${_milk_release}" _milk_release_series)
      if(_milk_release_series STREQUAL _milk_series AND EXISTS "${MILK_KERNEL_ROOT}/boot/vmlinuz-${_milk_release}")
        set(_milk_series_found TRUE)
      endif()
    endforeach()
    if(NOT _milk_series_found)
      message(FATAL_ERROR "milk: MILK_KERNEL_REQUIRE_ALL is ON, but no Linux ${_milk_series} kernel with both headers "
                          "and a /boot/vmlinuz was found among ${MILK_KERNEL_RELEASES_FOUND} "
                          "(bash scripts/install-deps.sh installs them)")
    endif()
  endforeach()
endif()
