// gnuplot helpers (see gnuplot.h).
#include "gnuplot.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace qgf_offline::gp {

namespace fs = std::filesystem;

// Every script renders the same figure twice: PNG (cairo) and SVG, through one loop over the formats.
std::string script(const std::string& name, const std::string& what, int width, int height,
                   const std::string& body) {
  std::ostringstream s;
  s << "# " << what << "\n# Written by qgf_offline; render with: gnuplot " << name
    << ".gp (in this directory)\n"
    << "set encoding utf8\n"
    << "do for [fmt in \"png svg\"] {\n"
    << "  if (fmt eq \"png\") {\n"
    << "    set terminal pngcairo size " << width << "," << height << " noenhanced font \"Sans,11\"\n"
    << "  } else {\n"
    << "    set terminal svg size " << width << "," << height
    << " noenhanced font \"Sans,11\" background rgb \"white\"\n"
    << "  }\n"
    << "  set output \"" << name << ".\".fmt\n"
    << body << "  unset multiplot\n  set output\n}\n";
  return s.str();
}

std::string safe_name(const std::string& s) {
  std::string o;
  for (char c : s) o += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return o;
}

std::string q(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

std::string shell_quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

std::string f(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

Rendered render(const std::string& dir, const std::vector<std::string>& names) {
  Rendered out;
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    out.note = "gnuplot is not installed, so no images were rendered; the scripts and data are in " + dir +
               " (install gnuplot, e.g. `apt-get install gnuplot-nox`, then run `cd " + dir +
               " && gnuplot NAME.gp`)";
    return out;
  }
  for (const std::string& n : names) {
    const std::string cmd = "cd " + shell_quote(dir) + " && gnuplot " + n + ".gp > " + n + ".log 2>&1";
    if (std::system(cmd.c_str()) == 0) {
      fs::remove(dir + "/" + n + ".log");
      out.images.push_back(dir + "/" + n + ".png");
      out.images.push_back(dir + "/" + n + ".svg");
    } else {
      out.note += (out.note.empty() ? "" : "; ") + std::string("gnuplot failed on ") + n + ".gp (see " + dir +
                  "/" + n + ".log)";
    }
  }
  return out;
}

}  // namespace qgf_offline::gp
