// sha256.h: streaming SHA-256 over OpenSSL EVP and hex helpers (any thread; one hasher per thread).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace meshcache::storage {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  // Returns the digest and leaves the hasher ready for a new message.
  Digest finish();

 private:
  struct CtxFree {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx_;
};

std::string to_hex(std::span<const uint8_t> bytes);
// Lowercase or uppercase hex of exactly 32 bytes; nullopt otherwise.
std::optional<Digest> digest_from_hex(std::string_view hex);

}  // namespace meshcache::storage
