// A plot made by gnuplot from a benchmark's numbers. A benchmark writes the
// data and the script next to its other output and then runs gnuplot on
// them, so that the PNG can be re-made (or restyled) from the same numbers
// without running the benchmark again. milk-bench (plot.cpp) and
// milk-sched-bench both make their plots this way.
#pragma once

#include <string>

namespace milk::bench {

// <dir>/<stem>.dat (the numbers), <dir>/<stem>.gp (the script, which reads
// the .dat) and <dir>/<stem>.png (what gnuplot makes of them).
struct GnuplotFiles {
    std::string program;  // "milk-bench": names the writer in the script and in messages
    std::string dir;
    std::string stem;
    int width = 1100;  // the PNG's size in pixels
    int height = 700;

    [[nodiscard]] std::string data_path() const { return dir + "/" + stem + ".dat"; }
    [[nodiscard]] std::string script_path() const { return dir + "/" + stem + ".gp"; }
    [[nodiscard]] std::string png_path() const { return dir + "/" + stem + ".png"; }
};

// Writes `data` to the .dat file and the script to the .gp file: a header
// that sets the PNG terminal and output, then `script`, which plots
// files.data_path(). Runs gnuplot on the script when `run_gnuplot`. False
// (with a message on stderr) if a file cannot be written or gnuplot fails.
[[nodiscard]] bool write_gnuplot(const GnuplotFiles& files, const std::string& data, const std::string& script,
                                 bool run_gnuplot);

// A number for a data file: `value` with `decimals` decimals, or "NaN"
// (which the scripts declare as missing) when it is not finite.
[[nodiscard]] std::string gnuplot_number(double value, int decimals = 1);

}  // namespace milk::bench
