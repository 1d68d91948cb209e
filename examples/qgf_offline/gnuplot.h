// Small helpers shared by the figures of one run (plots.cpp) and of a whole table of runs (summarize.cpp):
// gnuplot scripts that render one figure as PNG and SVG, quoting and number formatting for gnuplot, one
// colour cycle, and rendering the scripts of a directory when gnuplot is installed.
#pragma once
#include <string>
#include <vector>

namespace qgf_offline::gp {

// A script that draws `body` (gnuplot commands, multiplot allowed) into NAME.png and NAME.svg.
std::string script(const std::string& name, const std::string& what, int width, int height,
                   const std::string& body);
std::string safe_name(const std::string& s);    // a file-name-safe form of a label
std::string q(const std::string& s);            // a gnuplot double-quoted string
std::string shell_quote(const std::string& s);  // a single-quoted shell word
std::string f(double v);                        // a number in %.6g

// Colour-blind-safe Dark2 palette; methods keep their colour across figures by their index.
inline constexpr const char* kColors[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                                          "#66a61e", "#e6ab02", "#a6761d", "#666666"};

struct Rendered {
  std::vector<std::string> images;  // the PNG/SVG files rendered (empty without gnuplot)
  std::string note;                 // why nothing was rendered, or where a gnuplot error was logged
};
// Runs `gnuplot NAME.gp` in `dir` for each name; a failure leaves NAME.log next to the script.
Rendered render(const std::string& dir, const std::vector<std::string>& names);

}  // namespace qgf_offline::gp
