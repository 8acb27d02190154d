// The file-server example's server (examples/file-server/files.contract)
// inside the kernel. It is the example's own server code: serve_one and its
// FileTable (examples/file-server/file_server.hpp), written against the
// generated C++ endpoints and compiled here unchanged, run by
// SessionComponent once per request the generated validator has accepted
// (session_host.hpp). Each channel has its own table, with "/motd" in it.
#include "component.hpp"
#include "session_host.hpp"

#include "files_component.hpp"
#include "files.hpp"
#include "files.kstub.h"

namespace milk::kernel {
namespace {

namespace FileService = examples::files::FileService;

using FileServer = SessionComponent<components::files::FileServerReady, FileService::server,
                                    components::files::serve_one, components::files::FileTable>;

Result<Owned<Component>> create_file_server() { return FileServer::create(); }

}  // namespace

constinit const ContractEntry file_server_entry{
    "examples.files.FileService",
    1,
    [](milk_kstate* state, milk_kside side) { examples_files_FileService_init(state, side); },
    [](milk_kstate* state, const void* slot, const milk_kpool* pool, void* message, milk_kviolation* violation) {
        return examples_files_FileService_validate(state, slot, pool, static_cast<examples_files_FileService*>(message),
                                                   violation);
    },
    [](milk_kstate* state, milk_ku32 tag) { return examples_files_FileService_on_send(state, tag); },
    [](milk_ku32 tag) { return examples_files_FileService_payload_size(tag); },
    [](const void* message, milk_kbytes* out) -> std::size_t {
        const auto& received = *static_cast<const examples_files_FileService*>(message);
        switch (received.tag) {
        case examples_files_FileService_tag_Open: out[0] = received.body.Open.path; return 1;
        case examples_files_FileService_tag_Write: out[0] = received.body.Write.data; return 1;
        default: return 0;
        }
    },
    examples_files_FileService_state_end,
    examples_files_FileService_step,
    examples_files_FileService__tag_count,
    create_file_server,
    Hosting::PerMessage,
};

}  // namespace milk::kernel
