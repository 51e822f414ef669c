// sha256.cc: streaming SHA-256 over OpenSSL EVP and hex helpers (any thread; one hasher per
// thread).
#include "storage/sha256.h"

#include <new>

namespace meshcache::storage {
namespace {

struct MdFree {
  void operator()(EVP_MD* md) const noexcept { EVP_MD_free(md); }
};

// Fetched once: the implicit fetch behind EVP_sha256() costs a provider lookup per init.
const EVP_MD* sha256_md() {
  static const std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  return md.get();
}

// Nibble value of each byte, 0xff for non-hex: a table keeps digest_from_hex (run on every
// read()) branch-free.
constexpr std::array<uint8_t, 256> kNibble = [] {
  std::array<uint8_t, 256> t{};
  t.fill(0xff);
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<uint8_t>(i);
  for (int i = 0; i < 6; ++i) t['a' + i] = t['A' + i] = static_cast<uint8_t>(10 + i);
  return t;
}();

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  // Both fail only when OpenSSL cannot allocate: the same condition as std::bad_alloc.
  if (!ctx_ || sha256_md() == nullptr || EVP_DigestInit_ex2(ctx_.get(), sha256_md(), nullptr) != 1)
    throw std::bad_alloc();
}

void Sha256::update(const void* data, size_t size) { EVP_DigestUpdate(ctx_.get(), data, size); }

Digest Sha256::finish() {
  Digest out;
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), out.data(), &len);
  EVP_DigestInit_ex2(ctx_.get(), sha256_md(), nullptr);
  return out;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

std::optional<Digest> digest_from_hex(std::string_view hex) {
  Digest out;
  if (hex.size() != out.size() * 2) return std::nullopt;
  uint8_t bad = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    uint8_t hi = kNibble[static_cast<uint8_t>(hex[2 * i])];
    uint8_t lo = kNibble[static_cast<uint8_t>(hex[2 * i + 1])];
    bad |= (hi | lo) & 0xf0;
    out[i] = static_cast<uint8_t>(hi << 4 | (lo & 0xf));
  }
  if (bad != 0) return std::nullopt;
  return out;
}

}  // namespace meshcache::storage
