// The generated C++ headers inside the module: issue 4 asks that a
// component's session-typed endpoints compile in the kernel as they do in
// user space. This file includes the headers milkc generates for the
// components' contracts (the same ones user space uses), under the module's
// full flag set, and checks at compile time that they agree with the
// kernel stubs the module validates with: every message tag, and the
// number of states. It emits no code; the link rule still checks that no
// global constructor slipped in.
//
// Using the endpoints in the kernel is a later step: ChannelEnd and Buffer
// need shared_ptr and <chrono> at run time (docs/kernel.md).
#include "files.hpp"
#include "files.kstub.h"
#include "pingpong.hpp"
#include "pingpong.kstub.h"

#include <boost/hana.hpp>

#include <cstdint>

namespace {

namespace hana = boost::hana;
namespace PingPong = examples::pingpong::PingPong;
namespace FileService = examples::files::FileService;

template <typename Tag>
constexpr unsigned tag_of(Tag tag) {
    return static_cast<std::uint16_t>(tag);
}

static_assert(tag_of(PingPong::Tag::Ping) == examples_pingpong_PingPong_tag_Ping);
static_assert(tag_of(PingPong::Tag::Pong) == examples_pingpong_PingPong_tag_Pong);
static_assert(tag_of(PingPong::Tag::Bye) == examples_pingpong_PingPong_tag_Bye);
static_assert(decltype(hana::length(PingPong::protocol.states))::value == examples_pingpong_PingPong_state_end);

static_assert(tag_of(FileService::Tag::Open) == examples_files_FileService_tag_Open);
static_assert(tag_of(FileService::Tag::Opened) == examples_files_FileService_tag_Opened);
static_assert(tag_of(FileService::Tag::Read) == examples_files_FileService_tag_Read);
static_assert(tag_of(FileService::Tag::Data) == examples_files_FileService_tag_Data);
static_assert(tag_of(FileService::Tag::Eof) == examples_files_FileService_tag_Eof);
static_assert(tag_of(FileService::Tag::Write) == examples_files_FileService_tag_Write);
static_assert(tag_of(FileService::Tag::Written) == examples_files_FileService_tag_Written);
static_assert(tag_of(FileService::Tag::Close) == examples_files_FileService_tag_Close);
static_assert(tag_of(FileService::Tag::Closed) == examples_files_FileService_tag_Closed);
static_assert(tag_of(FileService::Tag::Failed) == examples_files_FileService_tag_Failed);
static_assert(tag_of(FileService::Tag::Bye) == examples_files_FileService_tag_Bye);
static_assert(decltype(hana::length(FileService::protocol.states))::value == examples_files_FileService_state_end);

}  // namespace
