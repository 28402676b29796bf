#include "model/safetensors_writer.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace qwen3 {

uint64_t TensorSpec::nbytes() const {
  uint64_t n = dtype_size(dtype);
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

void write_safetensors_file(const std::string& path,
                            const std::vector<const TensorSpec*>& tensors) {
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const TensorSpec* t : tensors) {
    const uint64_t n = t->nbytes();
    header[t->name] = {{"dtype", dtype_name(t->dtype)},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data section starts 8-byte aligned

  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) QWEN3_THROW(ErrorCode::kIo, "{}: cannot create: {}", path, std::strerror(errno));
  auto put = [&](const void* p, size_t n) {
    if (n > 0 && std::fwrite(p, 1, n, f.get()) != n) {
      QWEN3_THROW(ErrorCode::kIo, "{}: write failed: {}", path, std::strerror(errno));
    }
  };
  uint8_t len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  put(len, 8);
  put(text.data(), text.size());
  std::vector<uint8_t> buf;
  for (const TensorSpec* t : tensors) {
    buf.resize(t->nbytes());
    t->fill(buf.data());
    put(buf.data(), buf.size());
  }
  if (std::fflush(f.get()) != 0)
    QWEN3_THROW(ErrorCode::kIo, "{}: write failed: {}", path, std::strerror(errno));
}

std::vector<std::string> write_safetensors_shards(const std::string& dir,
                                                  const std::vector<TensorSpec>& tensors,
                                                  uint64_t max_shard_bytes) {
  std::vector<std::vector<const TensorSpec*>> shards(1);
  uint64_t current = 0;
  for (const auto& t : tensors) {
    if (current > 0 && current + t.nbytes() > max_shard_bytes) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(&t);
    current += t.nbytes();
  }
  std::vector<ShardPlan> plan;
  for (size_t i = 0; i < shards.size(); ++i) {
    plan.push_back({shards.size() == 1
                        ? std::string("model.safetensors")
                        : fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, shards.size()),
                    std::move(shards[i])});
  }
  write_safetensors_plan(dir, plan);
  std::vector<std::string> files;
  for (const auto& p : plan) files.push_back(p.file);
  return files;
}

void write_safetensors_plan(const std::string& dir, const std::vector<ShardPlan>& shards) {
  const std::filesystem::path root(dir);
  for (const auto& shard : shards)
    write_safetensors_file((root / shard.file).string(), shard.tensors);
  if (shards.size() == 1) return;
  nlohmann::ordered_json index;
  uint64_t total = 0;
  for (const auto& shard : shards) {
    for (const TensorSpec* t : shard.tensors) total += t->nbytes();
  }
  index["metadata"] = {{"total_size", total}};
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  for (const auto& shard : shards) {
    for (const TensorSpec* t : shard.tensors) weight_map[t->name] = shard.file;
  }
  index["weight_map"] = weight_map;
  std::ofstream out(root / "model.safetensors.index.json");
  out << index.dump(2) << "\n";
  if (!out) QWEN3_THROW(ErrorCode::kIo, "{}: cannot write model.safetensors.index.json", dir);
}

void write_dir_atomically(const std::string& out_dir, bool force,
                          const std::function<void(const std::string& tmp_dir)>& fill) {
  namespace fs = std::filesystem;
  const fs::path out(out_dir);
  if (fs::exists(out) && !force) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: already exists (pass --force to replace it)",
                out_dir);
  }
  // Build next to the destination, then rename: readers never see a partial folder.
  const fs::path parent = out.has_parent_path() ? out.parent_path() : fs::path(".");
  fs::create_directories(parent);
  const fs::path tmp = parent / (out.filename().string() + ".partial");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    fill(tmp.string());
  } catch (...) {
    fs::remove_all(tmp);
    throw;
  }
  fs::remove_all(out);
  fs::rename(tmp, out);
}

}  // namespace qwen3
