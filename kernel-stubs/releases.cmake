# milk.ko for every kernel MilkKernel.cmake found (MILK_KERNEL_RELEASES_FOUND),
# all under the one target milk_ko. Included by CMakeLists.txt once the
# sources are staged in ${milk_stage} (its stamp: ${milk_stage_stamp}).
#
# The primary release builds in the staged tree itself (kbuild/). Every other
# release builds in kbuild-<release>/, a copy of the staged tree's sources
# (copy_stage.cmake leaves out the build products): Kbuild writes objects
# next to the sources, so two kernels cannot share one tree. Each Kbuild runs
# in its own make, not as a sub-make of a Makefile generator's (whose
# jobserver it could not use anyway); two kernels' builds run side by side
# under `-j2`.
set(milk_ko_files "")
foreach(milk_release IN LISTS MILK_KERNEL_RELEASES_FOUND)
  milk_kernel_stage_dir("${milk_release}" milk_release_stage)
  set(milk_release_ko "${milk_release_stage}/milk.ko")
  set(milk_release_copy "")
  if(NOT milk_release_stage STREQUAL milk_stage)
    set(milk_release_copy COMMAND "${CMAKE_COMMAND}" "-DFROM=${milk_stage}" "-DTO=${milk_release_stage}"
                                  -P "${CMAKE_CURRENT_SOURCE_DIR}/copy_stage.cmake")
  endif()
  add_custom_command(
    OUTPUT "${milk_release_ko}"
    ${milk_release_copy}
    COMMAND "${CMAKE_COMMAND}" -E env --unset=MAKEFLAGS --unset=MFLAGS --unset=MAKELEVEL
            "${MILK_MAKE_PROGRAM}" -C "/lib/modules/${milk_release}/build" "M=${milk_release_stage}" modules
    COMMAND "${CMAKE_COMMAND}" -E touch "${milk_release_ko}"
    DEPENDS "${milk_stage_stamp}" "${CMAKE_CURRENT_SOURCE_DIR}/copy_stage.cmake"
    COMMENT "Building milk.ko for ${milk_release} with Kbuild"
    VERBATIM)
  list(APPEND milk_ko_files "${milk_release_ko}")
  if(NOT milk_release_stage STREQUAL milk_stage)
    set_property(DIRECTORY APPEND PROPERTY ADDITIONAL_CLEAN_FILES "${milk_release_stage}")
  endif()
endforeach()
add_custom_target(milk_ko ALL DEPENDS ${milk_ko_files})
