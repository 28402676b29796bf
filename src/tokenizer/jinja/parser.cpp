#include "tokenizer/jinja/parser.h"

#include <fmt/core.h>

#include <charconv>
#include <initializer_list>
#include <string_view>

#include "core/error.h"

namespace qwen3::jinja {
namespace {

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (s == n) return true;
  }
  return false;
}

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const SourceMap& map) : tokens_(tokens), map_(map) {}

  Body parse_template() {
    Body body = parse_body({});
    if (peek().kind != TokenKind::kEnd) fail(peek(), "unexpected tag");
    return body;
  }

 private:
  // --- token helpers -------------------------------------------------------------
  const Token& peek(size_t ahead = 0) const {
    const size_t k = pos_ + ahead;
    return k < tokens_.size() ? tokens_[k] : tokens_.back();
  }
  const Token& next() {
    const Token& t = peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool at_op(std::string_view op, size_t ahead = 0) const {
    return peek(ahead).kind == TokenKind::kOperator && peek(ahead).text == op;
  }
  bool at_word(std::string_view word, size_t ahead = 0) const {
    return peek(ahead).kind == TokenKind::kIdentifier && peek(ahead).text == word;
  }
  void expect_op(std::string_view op) {
    if (!at_op(op)) fail(peek(), fmt::format("expected '{}'", op));
    next();
  }
  void expect_word(std::string_view word) {
    if (!at_word(word)) fail(peek(), fmt::format("expected '{}'", word));
    next();
  }
  void expect_kind(TokenKind kind, std::string_view what) {
    if (peek().kind != kind) fail(peek(), fmt::format("expected {}", what));
    next();
  }
  std::string expect_name() {
    if (peek().kind != TokenKind::kIdentifier) fail(peek(), "expected a name");
    return next().text;
  }
  [[noreturn]] void fail(const Token& at, const std::string& what) const {
    const std::string got = at.kind == TokenKind::kEnd ? "end of template" : "'" + at.text + "'";
    QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: {} (got {})", map_.where(at.offset), what, got);
  }

  // Bounds recursion: each nested expression or block costs one level.
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : parser(p) {
      if (++parser.depth_ > kMaxParseDepth) {
        parser.fail(parser.peek(), fmt::format("template nests deeper than {}", kMaxParseDepth));
      }
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  static ExprPtr make_expr(ExprKind kind, uint32_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = offset;
    return e;
  }
  static StmtPtr make_stmt(StmtKind kind, uint32_t offset) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->offset = offset;
    return s;
  }

  // --- statements ----------------------------------------------------------------
  // Parses until `{% <one of stop> ...` (left unconsumed) or the end of the tokens.
  // `opener` is the offset of the block's `{%` (for the error when it is never closed).
  Body parse_body(std::initializer_list<std::string_view> stop, uint32_t opener = 0) {
    DepthGuard guard(*this);
    Body body;
    while (peek().kind != TokenKind::kEnd) {
      const Token& t = peek();
      if (t.kind == TokenKind::kText) {
        auto s = make_stmt(StmtKind::kText, t.offset);
        s->text = next().text;
        body.push_back(std::move(s));
      } else if (t.kind == TokenKind::kComment) {
        next();
      } else if (t.kind == TokenKind::kOpenExpression) {
        next();
        auto s = make_stmt(StmtKind::kOutput, t.offset);
        s->expr = parse_expression();
        expect_kind(TokenKind::kCloseExpression, "'}}'");
        body.push_back(std::move(s));
      } else if (t.kind == TokenKind::kOpenStatement) {
        if (peek(1).kind == TokenKind::kIdentifier && is_one_of(peek(1).text, stop)) return body;
        if (StmtPtr s = parse_statement()) body.push_back(std::move(s));
      } else {
        fail(t, "unexpected token outside a tag");
      }
    }
    if (stop.size() > 0) {
      QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: block is never closed (missing '{{% {} %}}')",
                  map_.where(opener), *(stop.end() - 1));
    }
    return body;
  }

  void close_tag() { expect_kind(TokenKind::kCloseStatement, "'%}'"); }

  // `{% name` at pos_. Returns null for no-op tags.
  StmtPtr parse_statement() {
    const Token& open = next();
    const Token& keyword = peek();
    if (keyword.kind != TokenKind::kIdentifier) fail(keyword, "expected a statement name");
    const std::string word = next().text;
    if (word == "if") return parse_if(open.offset);
    if (word == "for") return parse_for(open.offset);
    if (word == "set") return parse_set(open.offset);
    if (word == "macro") return parse_macro(open.offset);
    if (word == "filter") return parse_filter_block(open.offset);
    if (word == "break" || word == "continue") {
      close_tag();
      return make_stmt(word == "break" ? StmtKind::kBreak : StmtKind::kContinue, open.offset);
    }
    if (word == "generation" || word == "endgeneration") {  // transformers' mask markers
      close_tag();
      return nullptr;
    }
    if (word.starts_with("end") || word == "elif" || word == "else") {
      fail(keyword, fmt::format("unexpected '{{% {} %}}'", word));
    }
    fail(keyword, fmt::format("unsupported statement '{}'", word));
  }

  void expect_end(std::string_view end_word) {
    expect_kind(TokenKind::kOpenStatement, "'{%'");
    expect_word(end_word);
    close_tag();
  }

  StmtPtr parse_if(uint32_t offset) {
    auto s = make_stmt(StmtKind::kIf, offset);
    s->expr = parse_expression();
    close_tag();
    s->body = parse_body({"elif", "else", "endif"}, offset);
    const Token& open = next();  // {%
    const std::string word = next().text;
    if (word == "elif") {
      s->else_body.push_back(parse_if(open.offset));  // consumes the shared endif
      return s;
    }
    if (word == "else") {
      close_tag();
      s->else_body = parse_body({"endif"}, offset);
      next();
      next();
    }
    close_tag();
    return s;
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names{expect_name()};
    while (at_op(",")) {
      next();
      names.push_back(expect_name());
    }
    return names;
  }

  StmtPtr parse_for(uint32_t offset) {
    auto s = make_stmt(StmtKind::kFor, offset);
    s->targets = parse_targets();
    expect_word("in");
    s->expr = parse_or();
    if (at_word("if")) {
      next();
      s->condition = parse_or();
    }
    if (at_word("recursive")) fail(peek(), "recursive loops are not supported");
    close_tag();
    s->body = parse_body({"else", "endfor"}, offset);
    if (at_word("else", 1)) {
      next();
      next();
      close_tag();
      s->else_body = parse_body({"endfor"}, offset);
    }
    expect_end("endfor");
    return s;
  }

  StmtPtr parse_set(uint32_t offset) {
    std::vector<std::string> targets = parse_targets();
    std::string attr;
    if (targets.size() == 1 && at_op(".")) {
      next();
      attr = expect_name();
    }
    if (!at_op("=")) {
      if (targets.size() != 1 || !attr.empty()) fail(peek(), "expected '='");
      close_tag();
      auto s = make_stmt(StmtKind::kSetBlock, offset);
      s->targets = std::move(targets);
      s->body = parse_body({"endset"}, offset);
      expect_end("endset");
      return s;
    }
    next();
    auto s = make_stmt(StmtKind::kSet, offset);
    s->targets = std::move(targets);
    s->attr = std::move(attr);
    s->expr = parse_sequence();
    close_tag();
    return s;
  }

  StmtPtr parse_macro(uint32_t offset) {
    auto s = make_stmt(StmtKind::kMacro, offset);
    s->name = expect_name();
    expect_op("(");
    while (!at_op(")")) {
      std::string param = expect_name();
      ExprPtr fallback;
      if (at_op("=")) {
        next();
        fallback = parse_expression();
      } else if (!s->params.empty() && s->params.back().second) {
        fail(peek(), "non-default parameter follows default parameter");
      }
      s->params.emplace_back(std::move(param), std::move(fallback));
      if (!at_op(",")) break;
      next();
    }
    expect_op(")");
    close_tag();
    s->body = parse_body({"endmacro"}, offset);
    expect_end("endmacro");
    return s;
  }

  StmtPtr parse_filter_block(uint32_t offset) {
    auto s = make_stmt(StmtKind::kFilterBlock, offset);
    s->expr = parse_filter_call(nullptr);
    close_tag();
    s->body = parse_body({"endfilter"}, offset);
    expect_end("endfilter");
    return s;
  }

  // --- expressions ----------------------------------------------------------------
  // expression [, expression ...]: a tuple when there is a comma.
  ExprPtr parse_sequence() {
    const uint32_t offset = peek().offset;
    ExprPtr first = parse_expression();
    if (!at_op(",")) return first;
    auto tuple = make_expr(ExprKind::kTuple, offset);
    tuple->children.push_back(std::move(first));
    while (at_op(",")) {
      next();
      if (at_op(")") || peek().kind == TokenKind::kCloseStatement) break;  // (1,)
      tuple->children.push_back(parse_expression());
    }
    return tuple;
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this);
    ExprPtr value = parse_or();
    if (!at_word("if")) return value;
    auto e = make_expr(ExprKind::kTernary, next().offset);
    ExprPtr condition = parse_or();
    ExprPtr otherwise;
    if (at_word("else")) {
      next();
      otherwise = parse_expression();
    }
    e->children.push_back(std::move(condition));
    e->children.push_back(std::move(value));
    e->children.push_back(std::move(otherwise));
    return e;
  }

  ExprPtr binary(std::string op, uint32_t offset, ExprPtr lhs, ExprPtr rhs) {
    auto e = make_expr(ExprKind::kBinary, offset);
    e->name = std::move(op);
    e->children.push_back(std::move(lhs));
    e->children.push_back(std::move(rhs));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr lhs = parse_and();
    while (at_word("or")) {
      const uint32_t offset = next().offset;
      lhs = binary("or", offset, std::move(lhs), parse_and());
    }
    return lhs;
  }

  ExprPtr parse_and() {
    ExprPtr lhs = parse_not();
    while (at_word("and")) {
      const uint32_t offset = next().offset;
      lhs = binary("and", offset, std::move(lhs), parse_not());
    }
    return lhs;
  }

  ExprPtr parse_not() {
    if (!at_word("not")) return parse_comparison();
    DepthGuard guard(*this);
    auto e = make_expr(ExprKind::kUnary, next().offset);
    e->name = "not";
    e->children.push_back(parse_not());
    return e;
  }

  ExprPtr parse_comparison() {
    ExprPtr lhs = parse_additive();
    while (true) {
      std::string op;
      const uint32_t offset = peek().offset;
      if (at_word("not") && at_word("in", 1)) {
        next();
        op = "not in";
      } else if (at_word("in")) {
        op = "in";
      } else if (peek().kind == TokenKind::kOperator &&
                 is_one_of(peek().text, {"==", "!=", "<", "<=", ">", ">="})) {
        op = peek().text;
      } else {
        return lhs;
      }
      next();
      lhs = binary(std::move(op), offset, std::move(lhs), parse_additive());
    }
  }

  ExprPtr parse_additive() {
    ExprPtr lhs = parse_multiplicative();
    while (at_op("+") || at_op("-") || at_op("~")) {
      const Token& op = next();
      lhs = binary(op.text, op.offset, std::move(lhs), parse_multiplicative());
    }
    return lhs;
  }

  ExprPtr parse_multiplicative() {
    ExprPtr lhs = parse_power();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
      const Token& op = next();
      lhs = binary(op.text, op.offset, std::move(lhs), parse_power());
    }
    return lhs;
  }

  ExprPtr parse_power() {
    ExprPtr lhs = parse_test();
    while (at_op("**")) {
      const Token& op = next();
      lhs = binary("**", op.offset, std::move(lhs), parse_test());
    }
    return lhs;
  }

  ExprPtr parse_test() {
    ExprPtr operand = parse_filter();
    while (at_word("is")) {
      auto e = make_expr(ExprKind::kTest, next().offset);
      if (at_word("not")) {
        next();
        e->negate = true;
      }
      e->name = expect_name();
      e->children.push_back(std::move(operand));
      if (at_op("(")) parse_args(*e);
      operand = std::move(e);
    }
    return operand;
  }

  ExprPtr parse_filter() {
    ExprPtr operand = parse_unary();
    while (at_op("|")) {
      next();
      operand = parse_filter_call(std::move(operand));
    }
    return operand;
  }

  // name [(args)] applied to `operand` (null inside {% filter %}).
  ExprPtr parse_filter_call(ExprPtr operand) {
    auto e = make_expr(ExprKind::kFilter, peek().offset);
    e->name = expect_name();
    e->children.push_back(std::move(operand));
    if (at_op("(")) parse_args(*e);
    return e;
  }

  ExprPtr parse_unary() {
    if (!at_op("-") && !at_op("+")) return parse_postfix(parse_primary());
    DepthGuard guard(*this);
    auto e = make_expr(ExprKind::kUnary, peek().offset);
    e->name = next().text;
    e->children.push_back(parse_unary());
    return e;
  }

  // `(` args `)`: positional, then name=value keywords. Appends to e.children/kwargs.
  void parse_args(Expr& e) {
    expect_op("(");
    while (!at_op(")")) {
      if (at_op("*") || at_op("**")) fail(peek(), "argument unpacking is not supported");
      if (peek().kind == TokenKind::kIdentifier && at_op("=", 1)) {
        std::string key = next().text;
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (!e.kwargs.empty()) fail(peek(), "positional argument follows keyword argument");
        e.children.push_back(parse_expression());
      }
      if (!at_op(",")) break;
      next();
    }
    expect_op(")");
  }

  ExprPtr parse_postfix(ExprPtr object) {
    while (true) {
      if (at_op(".")) {
        const uint32_t offset = next().offset;
        if (peek().kind == TokenKind::kInteger) {
          auto index = make_expr(ExprKind::kLiteral, peek().offset);
          index->literal = Value::integer(parse_int(next()));
          object = index_expr(offset, std::move(object), std::move(index));
          continue;
        }
        auto e = make_expr(ExprKind::kAttr, offset);
        e->name = expect_name();
        e->children.push_back(std::move(object));
        object = std::move(e);
      } else if (at_op("[")) {
        object = parse_subscript(std::move(object));
      } else if (at_op("(")) {
        auto e = make_expr(ExprKind::kCall, peek().offset);
        e->children.push_back(std::move(object));
        parse_args(*e);
        object = std::move(e);
      } else {
        return object;
      }
    }
  }

  ExprPtr index_expr(uint32_t offset, ExprPtr object, ExprPtr index) {
    auto e = make_expr(ExprKind::kIndex, offset);
    e->children.push_back(std::move(object));
    e->children.push_back(std::move(index));
    return e;
  }

  // [index] or [start:stop:step].
  ExprPtr parse_subscript(ExprPtr object) {
    const uint32_t offset = next().offset;
    std::vector<ExprPtr> parts;
    parts.push_back(at_op(":") || at_op("]") ? nullptr : parse_expression());
    if (!at_op(":")) {
      if (!parts[0]) fail(peek(), "expected an index");
      expect_op("]");
      return index_expr(offset, std::move(object), std::move(parts[0]));
    }
    while (at_op(":") && parts.size() < 3) {
      next();
      parts.push_back(at_op(":") || at_op("]") ? nullptr : parse_expression());
    }
    expect_op("]");
    auto e = make_expr(ExprKind::kSlice, offset);
    e->children.push_back(std::move(object));
    for (auto& p : parts) e->children.push_back(std::move(p));
    while (e->children.size() < 4) e->children.push_back(nullptr);
    return e;
  }

  int64_t parse_int(const Token& t) const {
    int64_t v = 0;
    const auto res = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (res.ec != std::errc()) fail(t, "integer literal out of range");
    return v;
  }

  ExprPtr literal(uint32_t offset, Value v) {
    auto e = make_expr(ExprKind::kLiteral, offset);
    e->literal = std::move(v);
    return e;
  }

  ExprPtr parse_primary() {
    DepthGuard guard(*this);
    const Token& t = next();
    switch (t.kind) {
      case TokenKind::kInteger:
        return literal(t.offset, Value::integer(parse_int(t)));
      case TokenKind::kFloat:
        return literal(t.offset, Value::number(std::stod(t.text)));
      case TokenKind::kString: {
        std::string s = t.text;
        while (peek().kind == TokenKind::kString) s += next().text;  // 'a' 'b' == 'ab'
        return literal(t.offset, Value::string(std::move(s)));
      }
      case TokenKind::kIdentifier:
        return parse_name(t);
      case TokenKind::kOperator:
        if (t.text == "(") return parse_parenthesized();
        if (t.text == "[") return parse_collection(ExprKind::kList, t.offset, "]");
        if (t.text == "{") return parse_collection(ExprKind::kDict, t.offset, "}");
        break;
      default:
        break;
    }
    fail(t, "expected an expression");
  }

  ExprPtr parse_name(const Token& t) {
    if (t.text == "true" || t.text == "True") return literal(t.offset, Value::boolean(true));
    if (t.text == "false" || t.text == "False") return literal(t.offset, Value::boolean(false));
    if (t.text == "none" || t.text == "None") return literal(t.offset, Value::none());
    auto e = make_expr(ExprKind::kName, t.offset);
    e->name = t.text;
    return e;
  }

  ExprPtr parse_parenthesized() {
    const uint32_t offset = peek().offset;
    if (at_op(")")) {
      next();
      return make_expr(ExprKind::kTuple, offset);
    }
    ExprPtr inner = parse_sequence();
    expect_op(")");
    return inner;
  }

  // [a, b, ...] or {k: v, ...}; trailing commas allowed.
  ExprPtr parse_collection(ExprKind kind, uint32_t offset, std::string_view close) {
    auto e = make_expr(kind, offset);
    while (!at_op(close)) {
      e->children.push_back(parse_expression());
      if (kind == ExprKind::kDict) {
        expect_op(":");
        e->children.push_back(parse_expression());
      }
      if (!at_op(",")) break;
      next();
    }
    expect_op(close);
    return e;
  }

  const std::vector<Token>& tokens_;
  const SourceMap& map_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens, const SourceMap& map) {
  return Parser(tokens, map).parse_template();
}

}  // namespace qwen3::jinja
