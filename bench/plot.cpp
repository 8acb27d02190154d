// The plot: p50 round trip against message size, log-log, for milk and the
// baselines. milk-bench writes the data and a gnuplot script next to the
// JSON, then runs gnuplot (gnuplot.hpp), so the PNG can be re-made (or
// restyled) from the same numbers without running the benchmark again.
#include "gnuplot.hpp"
#include "results.hpp"

#include <cmath>
#include <sstream>

namespace milk::bench {
namespace {

struct Series {
    std::string column_title;
    std::string id;  // bytes row id, or "2x memcpy"
    Touch touch;
    std::string style;
};

std::string cell(const Results& results, const Series& series, std::size_t size) {
    double value = NAN;
    if (series.id == "memcpy") {
        if (const MemcpyRow* row = results.find_memcpy(size)) value = 2 * row->latency.p50_ns;
    } else if (const BytesRow* row = results.find_bytes(series.id, series.touch, size); row && row->measured) {
        value = row->latency.p50_ns;
    }
    return gnuplot_number(value);
}

}  // namespace

bool write_plot(const std::string& dir, const Results& results, bool run_gnuplot) {
    const std::vector<Series> series = {
        {"milk inproc (spin)", "milk_inproc", Touch::Stamp, "lw 3 pt 7 lc rgb '#1b7837'"},
        {"milk process (spin)", "milk_process", Touch::Stamp, "lw 3 pt 5 lc rgb '#5aae61'"},
        {"pipe", "pipe", Touch::Stamp, "lw 2 pt 9 lc rgb '#b2182b'"},
        {"Unix socket", "unix_socket", Touch::Stamp, "lw 2 pt 11 lc rgb '#ef8a62'"},
        {"2 x memcpy (copy each way)", "memcpy", Touch::Stamp, "lw 2 dt 2 pt 1 lc rgb '#4d4d4d'"},
        {"milk inproc, full touch", "milk_inproc", Touch::Full, "lw 2 dt 3 pt 6 lc rgb '#1b7837'"},
        {"pipe, full touch", "pipe", Touch::Full, "lw 2 dt 3 pt 8 lc rgb '#b2182b'"},
    };
    const GnuplotFiles files{.program = "milk-bench", .dir = dir, .stem = "round-trip-vs-size"};
    std::ostringstream data;
    data << "# p50 round trip (ns) by payload size (bytes); NaN: not measured\n# size";
    for (const Series& s : series) data << "\t\"" << s.column_title << "\"";
    data << "\n";
    for (std::size_t size : bytes_sizes) {
        data << size;
        for (const Series& s : series) data << "\t" << cell(results, s, size);
        data << "\n";
    }
    std::ostringstream script;
    script << "set title 'Round trip (p50) against message size: a `bytes` payload there and back'\n"
           << "set xlabel 'payload size'\nset ylabel 'round trip, p50'\n"
           << "set logscale xy\nset grid xtics ytics mytics\nset key left top\n"
           << "set datafile missing 'NaN'\n"
           << "set xtics ('64 B' 64, '4 KiB' 4096, '64 KiB' 65536, '1 MiB' 1048576, '16 MiB' 16777216, '256 MiB' 268435456)\n"
           << "set ytics ('10 ns' 10, '100 ns' 100, '1 us' 1e3, '10 us' 1e4, '100 us' 1e5, '1 ms' 1e6, "
              "'10 ms' 1e7, '100 ms' 1e8)\n"
           << "set xrange [40:1.6e6]\n"
           << "plot ";
    // A series without a single measured point (a transport missing from
    // this build) stays in the data file but out of the plot.
    bool first = true;
    for (std::size_t i = 0; i < series.size(); ++i) {
        bool any = false;
        for (std::size_t size : bytes_sizes) any = any || cell(results, series[i], size) != "NaN";
        if (!any) continue;
        script << (first ? "" : ", \\\n     ") << "'" << files.data_path() << "' using 1:" << (i + 2)
               << " with linespoints " << series[i].style << " title '" << series[i].column_title << "'";
        first = false;
    }
    script << "\n";
    return write_gnuplot(files, data.str(), script.str(), run_gnuplot);
}

}  // namespace milk::bench
