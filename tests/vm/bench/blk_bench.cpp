// The block device, measured with fio inside the VM (a program, not a
// test: it prints, it does not judge). Every number comes from the same
// boot, so only the ratios mean anything: under TCG the times themselves
// are emulated.
//
// Four disks of 32 MiB, each driven by fio (Debian's, brought in with
// run-vm-tests.sh --tool) with 4 KiB random reads and writes, O_DIRECT,
// libaio, at queue depths 1 and 32, for `seconds` each:
//
//   milk kernel   /dev/milkblkN, blk_ram placed in milk.ko (called directly)
//   milk process  /dev/milkblkN, blk_ram in a milk-runner process, reached
//                 by this program's agent over the channel (data in the
//                 exchange heap)
//   brd           the kernel's RAM disk (/dev/ram0)
//   null_blk      the kernel's null block device (/dev/nullb0): no data
//                 moved at all, the block layer's own floor
//
// Then the ratios of each milk disk's IOPS to brd's and null_blk's.
//
//   blk_bench [SECONDS]    (default 2)
#include "../programs/vm_disk_host.hpp"

#include <milk/blk/kernel_disk.hpp>
#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

milk::host::Host make_host(milk::Placement placement) {
    auto host = milk::vm::make_disk_host("blk_bench", {placement});
    if (!host.ok()) {
        std::fprintf(stderr, "blk_bench: host: %s\n", host.error().what);
        std::exit(1);
    }
    return std::move(host).value();
}

struct Result {
    double iops = 0;
    double latency_us = 0;
};

// fio's terse output (version 3): field 8 is the read IOPS, 40 the read
// latency's mean (us), 49 and 81 the same for writes.
Result fio(const std::string& device, const char* rw, int depth, int seconds) {
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) std::exit(1);
    const std::string filename = "--filename=" + device;
    const std::string mode = std::string("--rw=") + rw;
    const std::string iodepth = "--iodepth=" + std::to_string(depth);
    const std::string runtime = "--runtime=" + std::to_string(seconds);
    const pid_t child = ::fork();
    if (child == 0) {
        ::dup2(pipe_fds[1], 1);
        ::close(pipe_fds[0]);
        ::execlp("fio", "fio", "--name=bench", filename.c_str(), mode.c_str(), "--bs=4k", iodepth.c_str(),
                 "--ioengine=libaio", "--direct=1", "--size=16m", "--time_based", runtime.c_str(), "--ramp_time=0",
                 "--output-format=terse", "--terse-version=3", static_cast<char*>(nullptr));
        std::perror("fio");
        ::_exit(127);
    }
    ::close(pipe_fds[1]);
    std::string output;
    char buffer[4096];
    for (ssize_t got; (got = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0;) output.append(buffer, static_cast<std::size_t>(got));
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (std::size_t at = 0; at <= output.size(); ++at) {
        if (at == output.size() || output[at] == ';') {
            fields.push_back(output.substr(start, at - start));
            start = at + 1;
        }
    }
    const bool read = std::strcmp(rw, "randread") == 0;
    const std::size_t iops_field = read ? 8 : 49;
    const std::size_t latency_field = read ? 40 : 81;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || fields.size() <= latency_field) {
        std::fprintf(stderr, "blk_bench: fio on %s failed: %s\n", device.c_str(), output.c_str());
        std::exit(1);
    }
    return Result{std::strtod(fields[iops_field - 1].c_str(), nullptr), std::strtod(fields[latency_field - 1].c_str(), nullptr)};
}

bool exists(const char* path) {
    struct stat status {};
    return ::stat(path, &status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    const int seconds = argc > 1 ? std::atoi(argv[1]) : 2;
    auto kernel_host = make_host(milk::Placement::Kernel);
    auto process_host = make_host(milk::Placement::Process);
    // blk_file in a process, over a file of the guest's tmpfs: the file
    // backend's cost beside blk_ram's (pread/pwrite against memcpy).
    ::unlink("/tmp/milk-blk-bench.img");
    auto file_host = milk::vm::make_disk_host("blk_bench", {milk::Placement::Process, milk::host::RestartPolicy::Never,
                                                            "/tmp/milk-blk-bench.img"});
    milk::blk::KernelDiskOptions options;
    options.depth = 32;
    auto in_kernel = milk::blk::KernelDisk::try_create(kernel_host, "disk", options);
    auto in_process = milk::blk::KernelDisk::try_create(process_host, "disk", options);
    auto in_file = file_host.ok() ? milk::blk::KernelDisk::try_create(file_host.value(), "disk", options)
                                  : milk::Result<std::unique_ptr<milk::blk::KernelDisk>>(file_host.error());
    if (!in_kernel.ok() || !in_process.ok() || !in_file.ok() || !exists("/dev/ram0") || !exists("/dev/nullb0")) {
        std::fprintf(stderr,
                     "blk_bench: a disk is missing (milk kernel %d, milk process %d, milk file %d, brd %d, null_blk %d)\n",
                     in_kernel.ok(), in_process.ok(), in_file.ok(), exists("/dev/ram0"), exists("/dev/nullb0"));
        return 1;
    }
    const std::vector<std::pair<std::string, std::string>> disks = {
        {"milk kernel", in_kernel.value()->path()},
        {"milk process", in_process.value()->path()},
        {"milk file", in_file.value()->path()},
        {"brd", "/dev/ram0"},
        {"null_blk", "/dev/nullb0"},
    };
    std::map<std::string, Result> results;
    std::printf("bench: fio, 4 KiB random, O_DIRECT, libaio, %d s a row (TCG: only the ratios mean anything)\n", seconds);
    std::printf("bench: %-13s %-9s %5s %12s %12s\n", "disk", "op", "depth", "IOPS", "mean lat us");
    for (const char* rw : {"randread", "randwrite"}) {
        for (const int depth : {1, 32}) {
            for (const auto& [name, path] : disks) {
                const Result result = fio(path, rw, depth, seconds);
                results[name + rw + std::to_string(depth)] = result;
                std::printf("bench: %-13s %-9s %5d %12.0f %12.1f\n", name.c_str(), rw, depth, result.iops, result.latency_us);
                std::fflush(stdout);
            }
        }
    }
    std::printf("bench: ratios of IOPS (milk / baseline, same boot)\n");
    for (const char* rw : {"randread", "randwrite"}) {
        for (const int depth : {1, 32}) {
            const std::string key = std::string(rw) + std::to_string(depth);
            for (const char* milk : {"milk kernel", "milk process", "milk file"}) {
                const double iops = results[milk + key].iops;
                std::printf("bench: %-13s %-9s depth %2d: %.2f x brd, %.2f x null_blk\n", milk, rw, depth,
                            iops / results["brd" + key].iops, iops / results["null_blk" + key].iops);
            }
        }
    }
    const auto file_stats = in_file.value()->stats();
    if (file_stats.errors != 0) std::printf("bench: the file disk had %" PRIu64 " errors\n", file_stats.errors);
    const auto stats = in_process.value()->stats();
    std::printf("bench: the process disk's agent sent %" PRIu64 " batches for %" PRIu64 " requests (%.1f a batch), %" PRIu64
                " errors\n",
                stats.batches, stats.reads + stats.writes + stats.flushes + stats.discards,
                static_cast<double>(stats.reads + stats.writes + stats.flushes + stats.discards) /
                    static_cast<double>(stats.batches ? stats.batches : 1),
                stats.errors);
    return stats.errors == 0 && file_stats.errors == 0 ? 0 : 1;
}
