# milk_set_warnings(<target>): the project's warning set, identical for g++ 12
# and clang 19, and -Werror unless MILK_WERROR is off. Generated headers are
# compiled under the same set by the tests, so users who build with strict
# warnings get no noise from milk.
function(milk_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual -Wformat=2
    -Wimplicit-fallthrough -Wmissing-declarations)
  # GCC 12 at -O3 reports -Wrestrict inside libstdc++'s std::string when it
  # inlines concatenations (GCC bug 105329): a false positive in the library,
  # not in our code, so Release builds would otherwise fail under -Werror.
  target_compile_options(${target} PRIVATE
    $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
  if(MILK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
