// Synthetic Twitter API v2 JSON lines (see synthetic_tweets.h). Text is built piece by piece
// so entity offsets (code points, as the API counts them) are known without re-scanning.
#include "synthetic_tweets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string_view>
#include <vector>

#include "core/check.h"
#include "core/file.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/utf8.h"

namespace tlm::bench {
namespace {

template <size_t N>
const char* pick(Rng& r, const char* const (&list)[N]) {
  return list[r.below(N)];
}
bool chance(Rng& r, uint32_t per_mille) { return r.below(1000) < per_mille; }

const char* const kEn[] = {
    "the", "a", "is", "it", "to", "and", "of", "in", "that", "this", "for", "you", "I", "was", "on", "my", "with",
    "just", "so", "but", "not", "have", "be", "are", "what", "all", "like", "can", "get", "love", "today", "new",
    "time", "people", "really", "know", "one", "good", "day", "think", "great", "game", "video", "watch", "best",
    "never", "always", "thank", "happy", "please", "world", "week", "team", "night", "morning", "coffee", "music",
    "album", "release", "update", "thread", "lol", "omg", "tbh", "ngl", "rn", "imo", "literally", "actually",
    "weekend", "finally", "tomorrow", "everyone", "congrats", "amazing", "crazy", "season", "episode", "stream"};
const char* const kPt[] = {
    "não", "você", "obrigado", "hoje", "amanhã", "coração", "ação", "está", "muito", "bom", "dia", "que", "para",
    "com", "uma", "mais", "mas", "como", "eu", "tudo", "bem", "jogo", "futebol", "saudade", "cidade", "então",
    "também", "já", "só", "até", "vídeo", "música", "é", "lá", "aqui", "gente", "galera", "kkkkk", "às", "pôr"};
const char* const kEs[] = {
    "mañana", "año", "también", "qué", "corazón", "está", "muy", "bien", "gracias", "hoy", "para", "pero", "como",
    "todo", "nada", "fútbol", "canción", "jajaja", "ahora", "porque", "siempre", "nunca", "mejor", "vida", "amigo",
    "mundo", "niño", "español", "difícil", "aquí", "así", "después", "sí", "más", "el", "la", "de", "que", "en"};
const char* const kJa[] = {
    "今日", "は", "本当に", "楽しかった", "ありがとう", "ございます", "東京", "ラーメン", "食べた", "新しい", "動画",
    "見て", "ください", "最高", "です", "ね", "よ", "の", "が", "を", "に", "ゲーム", "配信", "明日", "も", "頑張る",
    "猫", "かわいい", "雨", "週末", "、", "。", "！", "笑", "ｗｗｗ"};
const char* const kAr[] = {
    "مرحبا", "شكرا", "اليوم", "جميل", "جدا", "الله", "كرة", "القدم", "صباح", "الخير", "مساء", "النور", "أنا",
    "أحب", "هذا", "الفيلم", "في", "من", "على", "إلى", "كل", "يوم", "رمضان", "كريم", "الحمد", "لله", "إن", "شاء"};
const char* const kEmoji[] = {
    "😂", "❤️", "🔥", "👍", "🙏", "😭", "✨", "🎉", "👀", "💯", "🥺", "😍", "🤣", "👨‍👩‍👧", "🏳️‍🌈", "👍🏽", "🇧🇷", "☕",
    "⚽", "🤔", "💀", "🙌"};
const char* const kTags[] = {
    "AI", "NBA", "WorldCup", "Python", "Eurovision", "BTS", "100DaysOfCode", "ClimateAction", "Ramadan",
    "FelizDomingo", "BomDia", "東京", "ThrowbackThursday", "MondayMotivation", "SuperBowl", "F1"};
// Raw characters Twitter escapes as &amp; &lt; &gt; in `text`.
const char* const kSymbols[] = {"&", "<3", "->", ">>>", "Q&A", "R&B", "AT&T", "<<", "&&"};
const char* const kSyllables[] = {"ka", "ri", "to", "mo", "na", "lu", "be", "xo", "jo", "an", "el", "sa", "vi",
                                  "da", "ne", "qu", "zz", "th", "or", "ix"};
const char* const kSites[] = {"example.com/articles/", "youtu.be/", "www.instagram.com/p/", "open.spotify.com/track/",
                              "github.com/tweetlm/issues/", "nyti.ms/"};

struct Lang {
  const char* code;
  const char* const* words;
  size_t n;
  bool spaced;
};
const Lang kLangs[] = {{"en", kEn, std::size(kEn), true}, {"pt", kPt, std::size(kPt), true},
                       {"es", kEs, std::size(kEs), true}, {"ja", kJa, std::size(kJa), false},
                       {"ar", kAr, std::size(kAr), true}, {"und", nullptr, 0, true}};

// Precomposed letters that some clients (macOS copy-paste, old Android keyboards) send
// decomposed; NFC has to put them back together.
struct Decomposition {
  uint32_t cp;
  char base;
  uint32_t mark;
};
const Decomposition kNfd[] = {{0xE1, 'a', 0x301}, {0xE9, 'e', 0x301}, {0xED, 'i', 0x301}, {0xF3, 'o', 0x301},
                              {0xFA, 'u', 0x301}, {0xE3, 'a', 0x303}, {0xF5, 'o', 0x303}, {0xE7, 'c', 0x327},
                              {0xF1, 'n', 0x303}, {0xE2, 'a', 0x302}, {0xEA, 'e', 0x302}, {0xF4, 'o', 0x302},
                              {0xE0, 'a', 0x300}};

std::string decompose(std::string_view w) {
  std::string out;
  for (size_t i = 0; i < w.size();) {
    size_t start = i;
    uint32_t cp = utf8_decode(w, i);
    const Decomposition* d = nullptr;
    for (const auto& x : kNfd)
      if (x.cp == cp) d = &x;
    if (d) {
      out.push_back(d->base);
      utf8_append(out, d->mark);
    } else {
      out.append(w.substr(start, i - start));
    }
  }
  return out;
}

constexpr uint32_t kUsers = 200000;
constexpr uint64_t kTwitterEpochMs = 1288834974657ULL;
constexpr uint64_t kStartMs = 1714521600000ULL;  // 2024-05-01T00:00:00Z

std::string username(uint64_t seed, uint32_t k) {
  Rng r(seed ^ 0xA11CEULL, k);
  std::string s;
  int parts = 2 + static_cast<int>(r.below(3));
  for (int i = 0; i < parts; ++i) s += pick(r, kSyllables);
  if (chance(r, 300)) s += "_";
  if (chance(r, 500)) s += std::to_string(r.below(2000));
  if (chance(r, 200)) s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}
uint64_t user_id(uint32_t k) { return 10000000ULL + uint64_t(k) * 7919ULL; }
// Snowflake ids: milliseconds since the Twitter epoch above 22 sequence bits.
uint64_t snowflake(uint64_t ms, uint64_t index) { return ((ms - kTwitterEpochMs) << 22) | (index & 0x3FFFFF); }
uint64_t snowflake_of(uint64_t index) { return snowflake(kStartMs + index * 97, index); }

std::string random_token(Rng& r, int n) {
  static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(kAlnum[r.below(62)]);
  return s;
}

struct Entity {
  enum Kind { mention, url, tag } kind;
  size_t start, end;      // code points in the unescaped text
  std::string a, b, c;    // mention: username, id; url: t.co, expanded, display; tag: tag
};

// A tweet's text with its entities.
struct Draft {
  std::string text;
  size_t cps = 0;
  std::vector<Entity> entities;
  const char* lang = "en";
  uint32_t author = 0;
  uint64_t id = 0;

  void add(std::string_view piece) {
    text += piece;
    cps += utf8_length(piece);
  }
  void add_entity(Entity::Kind k, std::string_view shown, std::string a, std::string b = {}, std::string c = {}) {
    size_t start = cps;
    add(shown);
    entities.push_back({k, start, cps, std::move(a), std::move(b), std::move(c)});
  }
};

void add_mention(Draft& d, uint64_t seed, Rng& r) {
  uint32_t k = r.below(kUsers);
  std::string name = username(seed, k);
  d.add_entity(Entity::mention, "@" + name, name, std::to_string(user_id(k)));
}

void add_link(Draft& d, Rng& r) {
  std::string tco = "https://t.co/" + random_token(r, 10);
  std::string site = pick(r, kSites), path = random_token(r, 6 + static_cast<int>(r.below(8)));
  d.add_entity(Entity::url, tco, tco, "https://" + site + path, site + path.substr(0, 4) + "…");
}

// Body text in `lang`: words with emoji, hashtags, symbols and line breaks mixed in.
void add_body(Draft& d, const Lang& lang, int words, bool nfd, uint64_t seed, Rng& r) {
  bool capital = lang.spaced && lang.words && lang.code[0] != 'a';
  for (int w = 0; w < words; ++w) {
    if (w > 0 && (lang.spaced || chance(r, 150))) d.add(chance(r, 15) ? "  " : " ");
    uint32_t roll = r.below(1000);
    if (roll < 70 || !lang.words) {
      d.add(pick(r, kEmoji));
      if (chance(r, 300)) d.add(pick(r, kEmoji));
    } else if (roll < 110) {
      std::string tag = pick(r, kTags);
      d.add_entity(Entity::tag, "#" + tag, tag);
    } else if (roll < 125) {
      d.add(pick(r, kSymbols));
    } else if (roll < 140) {
      d.add(chance(r, 500) ? "\n" : "\n\n");
    } else if (roll < 145) {
      add_mention(d, seed, r);
    } else {
      std::string word = lang.words[r.below(static_cast<uint32_t>(lang.n))];
      if (nfd) word = decompose(word);
      if (capital && w == 0 && word[0] >= 'a' && word[0] <= 'z') word[0] = static_cast<char>(word[0] - 32);
      d.add(word);
      if (lang.spaced && chance(r, 60)) d.add(chance(r, 500) ? "." : chance(r, 500) ? "!" : "...");
    }
  }
}

Draft fresh_draft(uint64_t seed, uint64_t index, Rng& r, bool long_post) {
  Draft d;
  uint32_t roll = r.below(100);
  const Lang& lang = kLangs[roll < 68 ? 0 : roll < 78 ? 1 : roll < 87 ? 2 : roll < 94 ? 3 : roll < 98 ? 4 : 5];
  d.lang = lang.code;
  d.author = static_cast<uint32_t>(double(kUsers) * std::pow(double(r.uniform()), 3.0));
  d.id = index;
  if (chance(r, 250)) {  // a reply: the client puts the names first
    int n = 1 + static_cast<int>(r.below(3));
    for (int i = 0; i < n; ++i) {
      add_mention(d, seed, r);
      d.add(" ");
    }
  }
  bool nfd = (lang.code[0] == 'p' || lang.code[0] == 'e') && chance(r, 100);
  int words = long_post ? 80 + static_cast<int>(r.below(120)) : 3 + static_cast<int>(r.below(32));
  add_body(d, lang, lang.words ? words : 1 + words / 8, nfd, seed, r);
  if (chance(r, 50)) {  // a link in the middle
    d.add(" ");
    add_link(d, r);
    d.add(" ");
    add_body(d, lang, 2 + static_cast<int>(r.below(6)), nfd, seed, r);
  }
  if (chance(r, 300)) {
    d.add(" ");
    add_link(d, r);
    if (chance(r, 200)) {
      d.add(" ");
      add_link(d, r);
    }
  }
  return d;
}

// The first `max_cps` code points of `s`, cut back to a space when there is one.
std::string truncate_cps(std::string_view s, size_t max_cps) {
  size_t i = 0, n = 0, last_space = 0;
  while (i < s.size() && n < max_cps) {
    if (s[i] == ' ') last_space = i;
    utf8_decode(s, i);
    ++n;
  }
  if (i < s.size() && last_space > 0) i = last_space;
  return std::string(s.substr(0, i));
}

// Twitter's own escaping of `text` (only & < >), then JSON escaping. `ascii` writes every
// non-ASCII code point as \uXXXX (surrogate pairs above the BMP) and '/' as "\/", as many
// crawlers' dumpers do.
void append_tweet_text(std::string& out, std::string_view raw, bool ascii) {
  std::string html;
  html.reserve(raw.size() + 16);
  for (char c : raw) {
    if (c == '&') html += "&amp;";
    else if (c == '<') html += "&lt;";
    else if (c == '>') html += "&gt;";
    else html.push_back(c);
  }
  if (!ascii) return append_json_string(out, html);
  std::string esc;
  append_json_string(esc, html);
  for (size_t i = 0; i < esc.size();) {
    unsigned char c = static_cast<unsigned char>(esc[i]);
    if (c < 0x80) {
      if (c == '/') out += "\\/";
      else out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    uint32_t cp = utf8_decode(esc, i);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += strprintf("\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
    } else {
      out += strprintf("\\u%04x", cp);
    }
  }
}

void append_entities(std::string& out, const std::vector<Entity>& ents, size_t max_end) {
  const char* names[] = {"mentions", "urls", "hashtags"};
  bool any = false;
  for (int k = 0; k < 3; ++k) {
    bool first = true;
    for (const Entity& e : ents) {
      if (e.kind != k || e.end > max_end) continue;
      out += first ? std::string(any ? ",\"" : "{\"") + names[k] + "\":[" : ",";
      first = false;
      any = true;
      out += strprintf("{\"start\":%zu,\"end\":%zu,", e.start, e.end);
      if (k == Entity::mention) out += "\"username\":\"" + e.a + "\",\"id\":\"" + e.b + "\"}";
      else if (k == Entity::url)
        out += "\"url\":\"" + e.a + "\",\"expanded_url\":\"" + e.b + "\",\"display_url\":\"" + e.c + "\"}";
      else out += "\"tag\":\"" + e.a + "\"}";
    }
    if (!first) out += "]";
  }
  if (any) out += "}";
}

uint64_t metric(Rng& r, float scale) {
  float x = std::exp(r.normal() * 1.8f) * scale;
  return static_cast<uint64_t>(x);
}

std::string iso_time(uint64_t ms) {
  time_t s = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&s, &tm);
  return strprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

enum class Ref { none, retweeted, replied_to, quoted };

// One API v2 object as one line (without the newline).
std::string tweet_line(const Draft& d, uint64_t index, Rng& r, Ref ref, uint64_t ref_id,
                       const Draft* note) {
  uint64_t ms = kStartMs + index * 97 + r.below(97);
  std::string id = std::to_string(snowflake(ms, index));
  std::string out;
  out.reserve(d.text.size() * 2 + 600);
  bool ascii = chance(r, 80);
  out += "{\"id\":\"" + id + "\",\"text\":";
  append_tweet_text(out, d.text, ascii);
  out += ",\"author_id\":\"" + std::to_string(user_id(d.author)) + "\",\"created_at\":\"" + iso_time(ms) +
         "\",\"lang\":\"" + d.lang + "\",\"edit_history_tweet_ids\":[\"" + id + "\"]";
  out += ",\"conversation_id\":\"" + (ref == Ref::replied_to ? std::to_string(snowflake_of(ref_id)) : id) + "\"";
  out += strprintf(",\"possibly_sensitive\":%s,\"reply_settings\":\"everyone\"", chance(r, 20) ? "true" : "false");
  out += strprintf(
      ",\"public_metrics\":{\"retweet_count\":%llu,\"reply_count\":%llu,\"like_count\":%llu,\"quote_count\":%llu,"
      "\"bookmark_count\":%llu,\"impression_count\":%llu}",
      (unsigned long long)metric(r, 2), (unsigned long long)metric(r, 1), (unsigned long long)metric(r, 10),
      (unsigned long long)metric(r, 0.3f), (unsigned long long)metric(r, 0.5f), (unsigned long long)metric(r, 400));
  std::string ents;
  append_entities(ents, d.entities, d.cps);
  if (!ents.empty()) out += ",\"entities\":" + ents;
  if (ref != Ref::none) {
    const char* type = ref == Ref::retweeted ? "retweeted" : ref == Ref::replied_to ? "replied_to" : "quoted";
    out += strprintf(",\"referenced_tweets\":[{\"type\":\"%s\",\"id\":\"%llu\"}]", type,
                      (unsigned long long)snowflake_of(ref_id));
    if (ref == Ref::replied_to && !d.entities.empty() && d.entities[0].kind == Entity::mention)
      out += ",\"in_reply_to_user_id\":\"" + d.entities[0].b + "\"";
  }
  if (note) {
    out += ",\"note_tweet\":{\"text\":";
    append_tweet_text(out, note->text, ascii);
    std::string ne;
    append_entities(ne, note->entities, note->cps);
    if (!ne.empty()) out += ",\"entities\":" + ne;
    out += "}";
  }
  out += "}";
  return out;
}

// The whole stream: a window of recent drafts and lines feeds the duplicates and retweets.
class Generator {
 public:
  explicit Generator(uint64_t seed) : seed_(seed) {}

  std::string next() {
    uint64_t i = index_++;
    Rng r(seed_, i);
    uint32_t roll = r.below(1000);
    bool have_history = recent_.size() == kWindow;
    if (have_history && roll < 25) return lines_[r.below(kWindow)];  // fetched twice by the crawler
    if (have_history && roll < 50) {                                   // copy-paste / bot text
      Draft d = recent_[r.below(kWindow)];
      d.author = r.below(kUsers);
      return remember(d, tweet_line(d, i, r, Ref::none, 0, nullptr));
    }
    if (have_history && roll < 80) {  // classic retweet: "RT @name: " + the original, cut at 140
      const Draft& o = recent_[r.below(kWindow)];
      Draft d;
      d.lang = o.lang;
      d.author = r.below(kUsers);
      std::string name = username(seed_, o.author);
      d.add("RT ");
      d.add_entity(Entity::mention, "@" + name, name, std::to_string(user_id(o.author)));
      d.add(": ");
      d.add(truncate_cps(o.text, 140 - d.cps));
      return tweet_line(d, i, r, Ref::retweeted, o.id, nullptr);
    }
    bool long_post = chance(r, 20);
    Draft d = fresh_draft(seed_, i, r, long_post);
    Ref ref = Ref::none;
    uint64_t ref_id = 0;
    if (!d.entities.empty() && d.entities[0].start == 0 && d.entities[0].kind == Entity::mention) {
      ref = Ref::replied_to;
      ref_id = i > 0 ? i - 1 - r.below(static_cast<uint32_t>(std::min<uint64_t>(i, 1000))) : 0;
    } else if (chance(r, 50)) {
      ref = Ref::quoted;
      ref_id = i / 2;
    }
    if (!long_post) return remember(d, tweet_line(d, i, r, ref, ref_id, nullptr));
    // A long post: `text` holds the first 280 code points and a link; note_tweet has it all.
    Draft shortd = d;
    shortd.text = truncate_cps(d.text, 270);
    shortd.cps = utf8_length(shortd.text);
    shortd.add("… ");
    add_link(shortd, r);
    return remember(d, tweet_line(shortd, i, r, ref, ref_id, &d));
  }

 private:
  static constexpr size_t kWindow = 512;
  std::string remember(const Draft& d, std::string line) {
    size_t slot = next_slot_++ % kWindow;
    if (recent_.size() < kWindow) {
      recent_.push_back(d);
      lines_.push_back(line);
    } else {
      recent_[slot] = d;
      lines_[slot] = line;
    }
    return line;
  }
  uint64_t seed_, index_ = 0, next_slot_ = 0;
  std::vector<Draft> recent_;
  std::vector<std::string> lines_;
};

uint64_t file_size_or_zero(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

GeneratedFile ensure_synthetic_file(const std::string& dir, uint64_t size_mb, uint64_t seed) {
  make_dirs(dir);
  GeneratedFile g;
  g.path = (std::filesystem::path(dir) / strprintf("tweets-v2-%s-seed%llu-%llumb.jsonl", kGeneratorVersion,
                                                   (unsigned long long)seed, (unsigned long long)size_mb))
               .string();
  uint64_t target = size_mb << 20;
  if (file_size_or_zero(g.path) == target) {
    g.bytes = target;
    g.reused = true;
    return g;
  }
  // Written under a temporary name and renamed at the end: a file with the final name is
  // always complete, which is what makes reuse safe.
  std::string tmp = g.path + strprintf(".tmp-%d", static_cast<int>(::getpid()));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw user_error(tmp, "cannot create: %s", std::strerror(errno));
  std::setvbuf(f, nullptr, _IOFBF, 4 << 20);
  Generator gen(seed);
  Progress progress("generate", static_cast<double>(target), ProgressUnit::bytes);
  while (true) {
    std::string line = gen.next();
    line.push_back('\n');
    if (g.bytes + line.size() > target) break;
    std::fwrite(line.data(), 1, line.size(), f);
    g.bytes += line.size();
    if (++g.tweets % 1024 == 0) progress.update(static_cast<double>(g.bytes));
  }
  // Pad to the exact size with one whitespace-only line, which every JSON lines reader skips.
  if (g.bytes < target) {
    std::string pad(target - g.bytes, ' ');
    pad.back() = '\n';
    std::fwrite(pad.data(), 1, pad.size(), f);
    g.bytes = target;
  }
  bool ok = std::fflush(f) == 0 && std::ferror(f) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), g.path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw user_error(g.path, "cannot write: %s", std::strerror(errno));
  }
  progress.update(static_cast<double>(g.bytes));
  g.seconds = progress.elapsed_s();
  progress.finish(strprintf("%llu tweets", (unsigned long long)g.tweets));
  return g;
}

uint64_t ensure_slice(const std::string& src, const std::string& dst, uint64_t mb) {
  uint64_t src_size = file_size_or_zero(src), limit = std::min<uint64_t>(mb << 20, src_size);
  int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw user_error(src, "cannot open: %s", std::strerror(errno));
  // The slice ends after the last '\n' in the window; look for it in the window's tail.
  uint64_t expect = 0;
  for (uint64_t end = limit; end > 0 && expect == 0;) {
    uint64_t start = end > (1 << 20) ? end - (1 << 20) : 0;
    std::string tail(end - start, '\0');
    if (::pread(fd, tail.data(), tail.size(), static_cast<off_t>(start)) != static_cast<ssize_t>(tail.size())) {
      ::close(fd);
      throw user_error(src, "read failed");
    }
    size_t nl = tail.rfind('\n');
    if (nl != std::string::npos) expect = start + nl + 1;
    end = start;
  }
  if (file_size_or_zero(dst) == expect && expect > 0) {
    ::close(fd);
    return expect;
  }
  AtomicFile out(dst);
  std::string buf(4 << 20, '\0');
  for (uint64_t done = 0; done < expect;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), expect - done));
    ssize_t got = ::pread(fd, buf.data(), want, static_cast<off_t>(done));
    if (got <= 0) {
      ::close(fd);
      throw user_error(src, "read failed");
    }
    out.write({buf.data(), static_cast<size_t>(got)});
    done += static_cast<uint64_t>(got);
  }
  ::close(fd);
  out.commit();
  return expect;
}

}  // namespace tlm::bench
