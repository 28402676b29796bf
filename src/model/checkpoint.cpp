#include "model/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace qwen3 {
namespace fs = std::filesystem;

namespace {

// Returns shard file name for each tensor name, from model.safetensors.index.json.
std::map<std::string, std::string> read_index(const fs::path& index_path) {
  std::ifstream in(index_path);
  if (!in) QWEN3_THROW(ErrorCode::kIo, "{}: cannot open", index_path.string());
  const auto root = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: not a valid JSON object", index_path.string());
  }
  const auto wm = root.find("weight_map");
  if (wm == root.end() || !wm->is_object()) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: missing object 'weight_map'", index_path.string());
  }
  std::map<std::string, std::string> out;
  for (const auto& [name, file] : wm->items()) {
    const std::string f = file.is_string() ? file.get<std::string>() : std::string();
    if (f.empty() || f.find('/') != std::string::npos || f == "..") {
      QWEN3_THROW(ErrorCode::kInvalidModel,
                  "{}: weight_map['{}'] must be a file name in the folder", index_path.string(),
                  name);
    }
    out[name] = f;
  }
  return out;
}

}  // namespace

Checkpoint::Checkpoint(const std::string& dir) : dir_(dir) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) QWEN3_THROW(ErrorCode::kIo, "{}: not a directory", dir);
  const fs::path index = root / "model.safetensors.index.json";
  const fs::path single = root / "model.safetensors";

  if (fs::exists(index)) {
    const auto weight_map = read_index(index);
    std::map<std::string, SafetensorsFile*> opened;
    for (const auto& [name, file] : weight_map) {
      auto it = opened.find(file);
      if (it == opened.end()) {
        shards_.push_back(std::make_unique<SafetensorsFile>((root / file).string()));
        it = opened.emplace(file, shards_.back().get()).first;
      }
      const TensorInfo* t = it->second->find(name);
      if (t == nullptr) {
        QWEN3_THROW(ErrorCode::kInvalidModel,
                    "{}: index maps tensor '{}' to {}, which does not hold it", index.string(),
                    name, file);
      }
      tensors_[name] = TensorRef{t, it->second->data(*t), &it->second->path()};
    }
  } else if (fs::exists(single)) {
    shards_.push_back(std::make_unique<SafetensorsFile>(single.string()));
    const SafetensorsFile& f = *shards_.back();
    for (const auto& t : f.tensors()) tensors_[t.name] = TensorRef{&t, f.data(t), &f.path()};
  } else {
    QWEN3_THROW(ErrorCode::kInvalidModel,
                "{}: no model.safetensors or model.safetensors.index.json in the folder", dir);
  }
}

TensorRef Checkpoint::get(std::string_view name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: checkpoint has no tensor '{}'", dir_, name);
  }
  return it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [name, ref] : tensors_) out.push_back(name);
  return out;
}

size_t Checkpoint::total_bytes() const {
  size_t n = 0;
  for (const auto& [name, ref] : tensors_) n += ref.info->nbytes;
  return n;
}

}  // namespace qwen3
