// credentials.cc: reading and hashing the client's token (I/O loop threads). A Bearer token is
// read in place; a Basic password is decoded on the stack and wiped, so a cached decision costs
// one SHA-256 and no allocation of ours.
#include "agent/auth/credentials.h"

#include <openssl/crypto.h>

#include <array>
#include <memory>

#include "storage/sha256.h"

namespace meshcache::agent {
namespace {

// One reused hasher per thread: a one-shot SHA256() fetches the algorithm on every call (about
// 4x slower for a short token).
void sha256(std::string_view data, std::array<uint8_t, 32>& out) {
  thread_local storage::Sha256 hasher;
  hasher.update(data.data(), data.size());
  out = hasher.finish();
}

bool iprefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
    if (c != prefix[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// A Basic password decoded in a stack buffer that is wiped when it goes.
class BasicPassword {
 public:
  // Base64 in either alphabet, padded or not (Bazel sends base64url). Decoding is OpenSSL's;
  // only the alphabet and the padding are fixed up here.
  explicit BasicPassword(std::string_view encoded) {
    while (!encoded.empty() && encoded.back() == '=') encoded.remove_suffix(1);
    if (encoded.size() % 4 == 1 || encoded.size() + 3 > text_.size()) return;
    size_t padding = (4 - encoded.size() % 4) % 4;
    text_size_ = encoded.size() + padding;
    for (size_t i = 0; i < encoded.size(); ++i) {
      char c = encoded[i];
      text_[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    for (size_t i = encoded.size(); i < text_size_; ++i) text_[i] = '=';
    int n = EVP_DecodeBlock(decoded_.data(), text_.data(), static_cast<int>(text_size_));
    if (n < 0 || static_cast<size_t>(n) < padding) return;
    decoded_size_ = static_cast<size_t>(n);
    // EVP_DecodeBlock counts padding as zero bytes.
    std::string_view user_pass(reinterpret_cast<const char*>(decoded_.data()),
                               decoded_size_ - padding);
    size_t colon = user_pass.find(':');
    if (colon != std::string_view::npos) password_ = user_pass.substr(colon + 1);
  }
  ~BasicPassword() {
    OPENSSL_cleanse(text_.data(), text_size_);
    OPENSSL_cleanse(decoded_.data(), decoded_size_);
  }
  BasicPassword(const BasicPassword&) = delete;
  BasicPassword& operator=(const BasicPassword&) = delete;

  std::string_view password() const { return password_; }

 private:
  std::array<unsigned char, kMaxCredentialBytes + 4> text_;
  std::array<unsigned char, kMaxCredentialBytes> decoded_;
  size_t text_size_ = 0;
  size_t decoded_size_ = 0;
  std::string_view password_;
};

// Calls `use` with the presented token (a view that dies with the call); false when none.
template <typename Use>
bool with_token(const http::Request& request, Use&& use) {
  const std::string* header = request.header("authorization");
  if (header == nullptr || header->size() > kMaxCredentialBytes) return false;
  std::string_view value = *header;
  if (iprefix(value, "bearer ")) {
    std::string_view token = trim(value.substr(7));
    if (token.empty()) return false;
    use(token);
    return true;
  }
  if (iprefix(value, "basic ")) {
    BasicPassword basic(trim(value.substr(6)));
    if (basic.password().empty()) return false;
    use(basic.password());
    return true;
  }
  return false;
}

}  // namespace

void read_credential(const http::Request& request, RequestCredential& credential) {
  if (credential.state != RequestCredential::State::unread) return;
  bool present =
      with_token(request, [&](std::string_view token) { sha256(token, credential.sha256); });
  credential.state = present ? RequestCredential::State::present : RequestCredential::State::absent;
}

std::optional<std::string> presented_token(const http::Request& request) {
  std::optional<std::string> out;
  with_token(request, [&](std::string_view token) { out.emplace(token); });
  return out;
}

}  // namespace meshcache::agent
