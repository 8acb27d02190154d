# Builds the kstub validator test with another C compiler and runs it.
#
#   cmake -DCC=<compiler> -DFLAGS=<list> -DINCLUDE=<dir> -DSOURCES=<list> -DOUT=<dir> -P build_and_run.cmake
foreach(var CC FLAGS INCLUDE SOURCES OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "build_and_run.cmake: -D${var}=... is required")
  endif()
endforeach()

file(MAKE_DIRECTORY ${OUT})
execute_process(
  COMMAND ${CC} -std=gnu11 ${FLAGS} -I${INCLUDE} ${SOURCES} -o ${OUT}/kstub_validator_test
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${CC} failed (${status}):\n${out}${err}")
endif()

execute_process(
  COMMAND ${OUT}/kstub_validator_test
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
message("${out}${err}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "kstub_validator_test built with ${CC} failed (${status})")
endif()
