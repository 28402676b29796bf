// Runs the real `qwen3` binary (QWEN3_BINARY) with a shell argument string and keeps its
// exit code, its stdout, and stdout + stderr.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "model/fixture.h"

namespace qwen3::test {

struct CliResult {
  int code = -1;
  std::string out;  // stdout + stderr
  std::string stdout_text;
};

inline CliResult run_cli(const std::string& args) {
  TempDir tmp;
  const std::string out = tmp.str() + "/out", err = tmp.str() + "/err";
  const int status =
      std::system((std::string(QWEN3_BINARY) + " " + args + " >" + out + " 2>" + err).c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.stdout_text = read_bytes(out);
  r.out = r.stdout_text + read_bytes(err);
  return r;
}

}  // namespace qwen3::test
