// milk-runner: the process a `process` instance runs in. The host starts it
// (userland/host/runner_protocol.hpp says how); it is not run by hand.
#include <milk/host/component_type.hpp>
#include <milk/host/runner.hpp>

int main(int argc, char** argv) { return milk::host::run_runner(argc, argv, milk::host::compiled_components()); }
