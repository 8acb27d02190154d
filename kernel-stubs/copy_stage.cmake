# Copies the sources of a staged milk.ko tree into another kernel's build
# tree, leaving out Kbuild's products (objects, modules, .cmd files, module
# lists), which belong to the kernel the first tree is built for:
#
#   cmake -DFROM=<staged tree> -DTO=<tree> -P copy_stage.cmake
#
# Files whose content is unchanged keep their time stamps, so Kbuild
# rebuilds only what changed (as copy_if_different does for the staged tree).
if(NOT FROM OR NOT TO)
  message(FATAL_ERROR "usage: cmake -DFROM=<staged tree> -DTO=<tree> -P copy_stage.cmake")
endif()
file(GLOB_RECURSE milk_stage_files LIST_DIRECTORIES false RELATIVE "${FROM}" "${FROM}/*")
foreach(milk_file IN LISTS milk_stage_files)
  get_filename_component(milk_name "${milk_file}" NAME)
  # What Kbuild writes (the same names tests/vm/dkms-build.sh checks a clean
  # tree for), plus its temporary and dependency files.
  if(milk_name MATCHES "\\.(o|ko|mod|mod\\.c|cmd|d|a|tmp|btf)$" OR milk_name MATCHES "^\\.tmp"
     OR milk_name STREQUAL "modules.order" OR milk_name STREQUAL "Module.symvers")
    continue()
  endif()
  get_filename_component(milk_dir "${TO}/${milk_file}" DIRECTORY)
  file(MAKE_DIRECTORY "${milk_dir}")
  # The primary release's Kbuild may run in FROM meanwhile (two kernels build
  # side by side): a file it wrote and removed again since the listing above
  # (a temporary we do not know by name) is not ours to copy.
  file(COPY_FILE "${FROM}/${milk_file}" "${TO}/${milk_file}" ONLY_IF_DIFFERENT RESULT milk_copied)
  if(NOT milk_copied EQUAL 0 AND EXISTS "${FROM}/${milk_file}")
    message(FATAL_ERROR "copy_stage: cannot copy ${FROM}/${milk_file}: ${milk_copied}")
  endif()
endforeach()
