// Byte-level helpers shared by the streaming output parsers.
//
// A streaming parser sees decoded text in arbitrary chunks. Before it emits the end of a
// chunk it must hold back (a) a suffix that may still grow into one of its markers
// ("</thi" of "</think>") and (b) an unfinished UTF-8 character (a chunk may end inside
// one). Everything else is emitted at once. All functions are O(|marker|^2) at most and
// never look further back than the longest marker.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string_view>

namespace qwen3 {

// Length of the longest suffix of `text` that is a proper prefix of `marker`; 0 if none.
//   ("abc</thi", "</think>") -> 5;  ("abc<<", "<think>") -> 1;  ("abc", "<think>") -> 0.
// A full occurrence is not a partial one: callers search for whole markers first.
size_t partial_marker_suffix(std::string_view text, std::string_view marker);

// Bytes at the end of `text` that begin a UTF-8 character whose continuation bytes have
// not arrived yet: ("a\xE4\xB8") -> 2. Invalid bytes are never held (waiting cannot fix
// them and would stall the stream), so the answer is 0 for them.
size_t utf8_incomplete_suffix(std::string_view text);

// Bytes of `text` that may be emitted now: all but a possible partial marker (of any of
// `markers`) or an unfinished UTF-8 character at the end.
size_t emittable_prefix(std::string_view text, std::initializer_list<std::string_view> markers);

// JSON's insignificant whitespace: ' ', '\t', '\n', '\r'. Also what the tool-call parser
// treats as formatting around blocks.
inline bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace qwen3
