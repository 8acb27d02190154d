// Every component written against the generated C++ endpoints, compiled as
// one object. The endpoint machinery they share (session_host.hpp, the
// runtime's and the generated headers' inline functions) is then emitted
// once: two objects would each carry a copy and an ftrace record of it, and
// `ld -r` refuses a record of the copy it discards (Kbuild explains).
#include "pingpong_echo.cpp"  // NOLINT(bugprone-suspicious-include): one object on purpose, see above
#include "file_server.cpp"    // NOLINT(bugprone-suspicious-include)
#include "tally.cpp"        // NOLINT(bugprone-suspicious-include)
