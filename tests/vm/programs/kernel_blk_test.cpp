// The block service in milk.ko: blk_ram served by the module in a kernel
// thread of the channel, driven through BlkClient exactly as in user space
// (tests/components/blk_test.cpp): a batch of writes at the queue's depth,
// a batch of reads in another order, every block compared; a read past the
// device's end fails alone.
#include "vm_check.hpp"

#include "blk/blk_client.hpp"

#include <milk/kernel.hpp>

#include <chrono>
#include <cstdio>
#include <vector>

namespace {

namespace Blk = milk::blk::Blk;
using components::blk::BlkClient;
using components::blk::Request;
using components::blk::RequestKind;
using milk::blk::BlkStatus;

constexpr auto timeout = std::chrono::seconds(20);

}  // namespace

int main() {
    milk::kernel::Options options;
    MILK_VM_CHECK(options.settings.set("blocks", 512).ok());
    auto end = milk::kernel::open_channel<Blk::Contract>("blk_ram", options);
    MILK_VM_CHECK(end.ok());
    auto connected = BlkClient::try_connect(Blk::Contract::client(std::move(end).value()), 32, timeout);
    MILK_VM_CHECK(connected.ok());
    BlkClient disk = std::move(connected).value();
    MILK_VM_CHECK(disk.device().blocks == 512 && disk.device().block_size == 4096 && disk.device().depth == 32);

    std::vector<std::vector<std::byte>> written(32);
    std::vector<Request> writes;
    for (std::uint32_t tag = 0; tag < 32; ++tag) {
        written[tag].resize(2 * 4096);
        for (std::size_t i = 0; i < written[tag].size(); ++i) written[tag][i] = static_cast<std::byte>((tag * 13 + i) & 0xff);
        writes.push_back({RequestKind::write, tag, tag * 16u, 0, written[tag]});
    }
    std::uint32_t ok = 0;
    MILK_VM_CHECK(disk.submit(writes, timeout, [&](std::uint32_t, BlkStatus status, std::span<const std::byte>) {
                          ok += status == BlkStatus::ok ? 1 : 0;
                      }).ok());
    MILK_VM_CHECK(ok == 32);

    std::vector<Request> reads;
    for (std::uint32_t tag = 0; tag < 31; ++tag) reads.push_back({RequestKind::read, tag, (30 - tag) * 16u, 2, {}});
    reads.push_back({RequestKind::read, 31, 511, 2, {}});  // past the end
    std::uint32_t matched = 0;
    BlkStatus past_end = BlkStatus::ok;
    MILK_VM_CHECK(disk.submit(reads, timeout, [&](std::uint32_t tag, BlkStatus status, std::span<const std::byte> data) {
                          if (tag == 31) {
                              past_end = status;
                              return;
                          }
                          const std::vector<std::byte>& expected = written[30 - tag];
                          if (status == BlkStatus::ok && data.size() == expected.size() &&
                              std::equal(data.begin(), data.end(), expected.begin()))
                              ++matched;
                      }).ok());
    MILK_VM_CHECK(matched == 31);
    MILK_VM_CHECK(past_end == BlkStatus::out_of_range);
    MILK_VM_CHECK(disk.bye().ok());
    std::printf("blk_ram in milk.ko: 32 writes, 31 reads back, a read past the end refused\n");
    return 0;
}
