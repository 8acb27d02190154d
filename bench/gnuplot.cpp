#include "gnuplot.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace milk::bench {
namespace {

bool write_file(const GnuplotFiles& files, const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
        std::fprintf(stderr, "%s: cannot write %s\n", files.program.c_str(), path.c_str());
        return false;
    }
    return true;
}

}  // namespace

std::string gnuplot_number(double value, int decimals) {
    if (!std::isfinite(value)) return "NaN";
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

bool write_gnuplot(const GnuplotFiles& files, const std::string& data, const std::string& script, bool run_gnuplot) {
    const std::string script_path = files.script_path();
    if (!write_file(files, files.data_path(), data)) return false;
    const std::string header = "# gnuplot " + script_path + "  (written by " + files.program + ")\n" +
                               "set terminal pngcairo size " + std::to_string(files.width) + "," +
                               std::to_string(files.height) + " font 'sans,11'\n" + "set encoding utf8\n" +
                               "set output '" + files.png_path() + "'\n";
    if (!write_file(files, script_path, header + script)) return false;
    if (!run_gnuplot) return true;
    // gnuplot writes to the same terminal: what we printed goes first.
    std::fflush(stdout);
    std::fflush(stderr);
    const std::string command = "gnuplot '" + script_path + "'";
    if (std::system(command.c_str()) != 0) {
        std::fprintf(stderr, "%s: `%s` failed (is gnuplot installed? Debian: gnuplot-nox)\n", files.program.c_str(),
                     command.c_str());
        return false;
    }
    return true;
}

}  // namespace milk::bench
