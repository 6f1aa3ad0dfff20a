// Unpickling torch.save data without trusting libtorch with hostile input.
// Internal to core (includes ATen).
#pragma once

#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

namespace bs {

// torch::jit::pickle_load, but first probed in a forked child: libtorch's
// unpickler is not hardened, and a damaged data.pkl inside a valid zip can
// corrupt memory (the robustness suite saw glibc abort on "free(): invalid
// pointer"). When the probe dies, throws Error("<path>: ...") instead of
// taking the process down. Other failures throw Error with libtorch's
// first message line.
c10::IValue safePickleLoad(const std::vector<char>& data, const std::string& path);

}  // namespace bs
