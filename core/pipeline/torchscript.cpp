// The TorchScript stage: a module saved with torch.jit.script(m).save(path)
// applied to the stage's tensor.
#include <filesystem>
#include <mutex>

#include <torch/script.h>

#include "core/common/torch_bridge.h"
#include "core/pipeline/transforms_internal.h"

namespace bs {

namespace {

class TorchScriptOp : public Transform {
public:
    TorchScriptOp(std::string path, std::string resolved)
        : path_(std::move(path)), resolved_(std::move(resolved)) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(resolved_, ec))
            throw Error("TorchScript file '" + resolved_ + "' does not exist");
        try {
            module_ = torch::jit::load(resolved_);
            module_.eval();
        } catch (const c10::Error& e) {
            throw Error("cannot load TorchScript module '" + resolved_ +
                        "': " + firstLine(e.what_without_backtrace()));
        } catch (const std::exception& e) {
            // Script parse errors quote the source over several lines.
            throw Error("cannot load TorchScript module '" + resolved_ +
                        "': " + firstLine(e.what()));
        }
    }
    static std::string firstLine(std::string m) {
        if (auto nl = m.find('\n'); nl != std::string::npos) m.resize(nl);
        return m;
    }
    std::string op() const override { return "TorchScript"; }
    nlohmann::json params() const override { return {{"path", path_}}; }
    std::string repr() const override { return "TorchScript(path='" + path_ + "')"; }
    StageValue apply(const StageValue& in, Rng&, nlohmann::json&) const override {
        if (in.isImage()) needTensor("TorchScript");
        at::Tensor x = toAten(in.tensor);
        at::Tensor y;
        try {
            // Module::forward is not documented as thread-safe; loader workers
            // share one stage, so calls are serialised.
            std::lock_guard<std::mutex> lock(mutex_);
            c10::InferenceMode guard;
            auto out = module_.forward({x});
            if (!out.isTensor())
                throw Error("TorchScript module '" + path_ + "' returned " + out.tagKind() +
                            ", expected a tensor");
            y = out.toTensor();
        } catch (const c10::Error& e) {
            throw Error("TorchScript module '" + path_ +
                        "' failed: " + firstLine(e.what_without_backtrace()));
        } catch (const Error&) {
            throw;
        } catch (const std::exception& e) {
            throw Error("TorchScript module '" + path_ + "' failed: " + firstLine(e.what()));
        }
        return StageValue::fromTensor(fromAten(y));
    }
    ValueRange expectedRange(const ValueRange&, int) const override {
        return ValueRange::unknown();
    }
    TransformTraits traits() const override {
        TransformTraits t;
        t.unknownRange = true;
        return t;
    }

private:
    std::string path_, resolved_;
    mutable torch::jit::Module module_;
    mutable std::mutex mutex_;
};

}  // namespace

std::shared_ptr<const Transform> createTorchScriptTransform(const nlohmann::json& params,
                                                            const std::string& baseDir) {
    const nlohmann::json p = params.is_null() ? nlohmann::json::object() : params;
    for (auto it = p.begin(); it != p.end(); ++it)
        if (it.key() != "path") throw Error("unknown parameter '" + it.key() + "'; accepted: path");
    if (!p.contains("path") || p["path"].is_null())
        throw Error("missing required parameter 'path'; accepted: path");
    if (!p["path"].is_string())
        throw Error("parameter 'path' must be a string, got " + p["path"].dump() +
                    "; accepted: path");
    const std::string path = p["path"].get<std::string>();
    std::filesystem::path resolved(path);
    if (resolved.is_relative()) resolved = std::filesystem::path(baseDir) / resolved;
    return std::make_shared<TorchScriptOp>(path, resolved.lexically_normal().string());
}

}  // namespace bs
