# Finds the build headers of an installed kernel for milk.ko. Included from
# the top-level CMakeLists.txt before the MILK_BUILD_KERNEL option, whose
# default is MILK_KERNEL_HEADERS_FOUND.
#
# Sets, in the including scope:
#   MILK_KERNEL_HEADERS_FOUND  TRUE when a kernel's build directory was found
#   MILK_KERNEL_RELEASE_FOUND  its release (e.g. what `uname -r` prints there)
#   MILK_KERNEL_BUILD_DIR      /lib/modules/<release>/build
#   MILK_KO_FILE               where the milk_ko target puts milk.ko
#
# The release is never hard-coded: MILK_KERNEL_RELEASE picks one, otherwise
# the newest installed kernel that has both headers and a /boot/vmlinuz (so
# the VM tests can boot it), otherwise the newest with headers.
set(MILK_KERNEL_RELEASE "" CACHE STRING
    "Kernel release to build milk.ko for (empty: the newest installed kernel with headers)")

set(MILK_KERNEL_HEADERS_FOUND FALSE)
set(MILK_KERNEL_RELEASE_FOUND "")
set(MILK_KERNEL_BUILD_DIR "")
if(MILK_KERNEL_RELEASE)
  if(EXISTS "/lib/modules/${MILK_KERNEL_RELEASE}/build/Makefile")
    set(MILK_KERNEL_RELEASE_FOUND "${MILK_KERNEL_RELEASE}")
  endif()
else()
  file(GLOB _milk_kernel_makefiles LIST_DIRECTORIES false /lib/modules/*/build/Makefile)
  set(_milk_kernel_releases "")
  foreach(_milk_makefile IN LISTS _milk_kernel_makefiles)
    string(REGEX REPLACE "^/lib/modules/([^/]+)/build/Makefile$" "\\1" _milk_release "${_milk_makefile}")
    list(APPEND _milk_kernel_releases "${_milk_release}")
  endforeach()
  list(SORT _milk_kernel_releases COMPARE NATURAL ORDER DESCENDING)
  foreach(_milk_release IN LISTS _milk_kernel_releases)
    if(EXISTS "/boot/vmlinuz-${_milk_release}")
      set(MILK_KERNEL_RELEASE_FOUND "${_milk_release}")
      break()
    endif()
  endforeach()
  if(NOT MILK_KERNEL_RELEASE_FOUND AND _milk_kernel_releases)
    list(GET _milk_kernel_releases 0 MILK_KERNEL_RELEASE_FOUND)
  endif()
endif()

if(MILK_KERNEL_RELEASE_FOUND)
  set(MILK_KERNEL_HEADERS_FOUND TRUE)
  set(MILK_KERNEL_BUILD_DIR "/lib/modules/${MILK_KERNEL_RELEASE_FOUND}/build")
  message(STATUS "milk: kernel headers for ${MILK_KERNEL_RELEASE_FOUND} found; milk.ko can be built")
elseif(MILK_KERNEL_RELEASE)
  message(STATUS "milk: no kernel headers for MILK_KERNEL_RELEASE=${MILK_KERNEL_RELEASE} "
                 "(/lib/modules/${MILK_KERNEL_RELEASE}/build); milk.ko and its VM tests are off")
else()
  message(STATUS "milk: no kernel headers under /lib/modules/*/build; milk.ko and its VM tests are off "
                 "(on Debian: apt-get install linux-headers-amd64 linux-image-amd64)")
endif()
set(MILK_KO_FILE "${PROJECT_BINARY_DIR}/kernel-stubs/kbuild/milk.ko")
