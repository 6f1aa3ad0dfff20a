// The Lambda stage's expression language: a tiny Python-like subset over the
// stage's tensor `x`, evaluated with libtorch so results equal torch's.
//
//   numbers (1, 0.5, 1e-9), x, + - * / **, unary -, parentheses,
//   < <= > >= == != (give 0/1 float), methods x.sum() x.mean() x.std()
//   x.min() x.max() x.abs() x.log() x.exp() x.sqrt() x.clamp(a, b) x.float()
//   and the torch.<name>(x, ...) function forms of the same.
#pragma once

#include <memory>
#include <string>

#include "core/common/types.h"

namespace bs {

namespace expr_detail {
struct Node;
}

class Expression {
public:
    // Throws Error: "Lambda: unexpected ')' at column 7 in 'x.sum())'" with
    // the 1-based column.
    static Expression parse(const std::string& text);
    // Thread-safe. Throws Error when torch rejects an operation.
    Tensor evaluate(const Tensor& x) const;
    const std::string& text() const { return text_; }

private:
    std::string text_;
    std::shared_ptr<const expr_detail::Node> root_;
};

}  // namespace bs
