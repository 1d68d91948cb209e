// The built-in maze grids and tasks (transcribed from OGBench's maze.py maze_map / set_tasks), layout checks,
// coordinate maps and the BFS used by the oracle.
#include "rl/envs/maze_layouts.h"

#include <deque>
#include <map>

#include "engine/core/error.h"

namespace rl {

namespace {

constexpr char kOp[] = "MazeLayout";

[[noreturn]] void fail(const std::string& problem, const std::string& hint) {
  engine::raise(engine::ErrorKind::Value, kOp, problem, {}, {}, hint);
}

std::string cell_str(Cell c) { return "(" + std::to_string(c.i) + ", " + std::to_string(c.j) + ")"; }

// The grids are OGBench's maze_map rows with 1 -> '#' and 0 -> '.'; the tasks are its (init_ij, goal_ij)
// pairs.
std::map<std::string, MazeLayout, std::less<>> make_builtin() {
  std::map<std::string, MazeLayout, std::less<>> m;
  // The grids read best one row per line.
  // clang-format off
  m.emplace("medium", MazeLayout("medium",
                                 {"########",
                                  "#..##..#",
                                  "#..#...#",
                                  "##...###",
                                  "#..#...#",
                                  "#.#..#.#",
                                  "#...#..#",
                                  "########"},
                                 {{{1, 1}, {6, 6}}, {{6, 1}, {1, 6}}, {{5, 3}, {4, 2}}, {{6, 5}, {6, 1}},
                                  {{2, 6}, {1, 1}}}));
  m.emplace("large", MazeLayout("large",
                                {"############",
                                 "#....#.....#",
                                 "#.##.#.#.#.#",
                                 "#......#...#",
                                 "#.####.###.#",
                                 "#..#.#.....#",
                                 "##.#.#.#.###",
                                 "#..#...#...#",
                                 "############"},
                                {{{1, 1}, {7, 10}}, {{5, 4}, {7, 1}}, {{7, 4}, {1, 10}}, {{3, 8}, {5, 4}},
                                 {{1, 1}, {5, 4}}}));
  m.emplace("giant", MazeLayout("giant",
                                {"################",
                                 "#.#......##....#",
                                 "#.#.##.#.#..##.#",
                                 "#...#..#...#...#",
                                 "#.###.######.#.#",
                                 "#...#...#....#.#",
                                 "###.#.#..#.#.###",
                                 "#...#..#...#...#",
                                 "#.#.#.######.#.#",
                                 "#.###...#...##.#",
                                 "#.....#...#....#",
                                 "################"},
                                {{{1, 1}, {10, 14}}, {{1, 14}, {10, 1}}, {{8, 14}, {1, 1}}, {{8, 3}, {5, 12}},
                                 {{5, 9}, {3, 8}}}));
  // clang-format on
  return m;
}

}  // namespace

const MazeLayout& MazeLayout::get(std::string_view name) {
  static const std::map<std::string, MazeLayout, std::less<>> builtin = make_builtin();
  auto it = builtin.find(name);
  if (it == builtin.end()) {
    std::string known;
    for (const std::string& k : names()) known += (known.empty() ? "" : ", ") + k;
    fail("unknown maze '" + std::string(name) + "'", "use one of: " + known);
  }
  return it->second;
}

std::vector<std::string> MazeLayout::names() { return {"medium", "large", "giant"}; }

MazeLayout::MazeLayout(std::string name, std::vector<std::string> rows, std::vector<MazeTask> tasks)
    : name_(std::move(name)), grid_(std::move(rows)), tasks_(std::move(tasks)) {
  rows_ = int(grid_.size());
  cols_ = rows_ ? int(grid_[0].size()) : 0;
  if (rows_ < 3 || cols_ < 3)
    fail("maze '" + name_ + "' is " + std::to_string(rows_) + "x" + std::to_string(cols_),
         "a layout needs at least 3x3 cells (a wall border around free cells)");
  for (int i = 0; i < rows_; ++i) {
    if (int(grid_[size_t(i)].size()) != cols_)
      fail("maze '" + name_ + "' row " + std::to_string(i) + " has " +
               std::to_string(grid_[size_t(i)].size()) + " cells, row 0 has " + std::to_string(cols_),
           "every row of the grid must have the same length");
    for (int j = 0; j < cols_; ++j) {
      const char ch = grid_[size_t(i)][size_t(j)];
      if (ch != '#' && ch != '.')
        fail("maze '" + name_ + "' cell " + cell_str({i, j}) + " is '" + std::string(1, ch) + "'",
             "use '#' for walls and '.' for free cells");
      const bool border = i == 0 || j == 0 || i == rows_ - 1 || j == cols_ - 1;
      if (border && ch != '#')
        fail("maze '" + name_ + "' border cell " + cell_str({i, j}) + " is free",
             "the outer ring of the grid must be wall, so that the point cannot leave the maze");
    }
  }
  for (int i = 0; i < rows_; ++i)
    for (int j = 0; j < cols_; ++j) {
      const Cell c{i, j};
      if (is_wall(c)) continue;
      free_.push_back(c);
      // Straight hallway cells are excluded from the goal cells, exactly as generate_locomaze.py does.
      const bool vertical =
          is_free({i - 1, j}) && is_free({i + 1, j}) && is_wall({i, j - 1}) && is_wall({i, j + 1});
      const bool horizontal =
          is_free({i, j - 1}) && is_free({i, j + 1}) && is_wall({i - 1, j}) && is_wall({i + 1, j});
      if (!vertical && !horizontal) vertex_.push_back(c);
    }
  if (free_.empty()) fail("maze '" + name_ + "' has no free cell", "add free cells ('.') inside the border");
  dist_.assign(size_t(rows_ * cols_), {});
  for (const Cell& c : free_) dist_[size_t(index(c))] = bfs_distances(c);
  for (const Cell& c : free_)
    if (dist_[size_t(index(free_[0]))][size_t(index(c))] < 0)
      fail("maze '" + name_ + "' cell " + cell_str(c) + " cannot be reached from " + cell_str(free_[0]),
           "every free cell must be connected (the data generator samples start and goal cells anywhere)");
  for (size_t t = 0; t < tasks_.size(); ++t)
    for (const Cell& c : {tasks_[t].start, tasks_[t].goal})
      if (is_wall(c))
        fail("maze '" + name_ + "' task " + std::to_string(t + 1) + " uses wall cell " + cell_str(c),
             "task start and goal cells must be free");
}

bool MazeLayout::is_wall(Cell c) const {
  if (c.i < 0 || c.j < 0 || c.i >= rows_ || c.j >= cols_) return true;
  return grid_[size_t(c.i)][size_t(c.j)] == '#';
}

Vec2 MazeLayout::cell_center(Cell c) const { return {c.j * kUnit - kOffset, c.i * kUnit - kOffset}; }

Cell MazeLayout::cell_of(Vec2 p) const {
  // static_cast truncates toward zero like Python's int(); the clamp only matters outside the grid.
  int i = static_cast<int>((p.y + kOffset + 0.5 * kUnit) / kUnit);
  int j = static_cast<int>((p.x + kOffset + 0.5 * kUnit) / kUnit);
  i = i < 0 ? 0 : (i >= rows_ ? rows_ - 1 : i);
  j = j < 0 ? 0 : (j >= cols_ ? cols_ - 1 : j);
  return {i, j};
}

const MazeTask& MazeLayout::task(int id) const {
  if (tasks_.empty())
    fail("maze '" + name_ + "' defines no tasks", "use a built-in maze (medium, large, giant)");
  if (id == 0) id = 1;  // OGBench: reward_task_id 0 is the default task, task1 for the mazes
  if (id < 1 || id > int(tasks_.size()))
    fail("task id " + std::to_string(id) + " is out of range for maze '" + name_ + "'",
         "use 1.." + std::to_string(tasks_.size()) + " (0 picks the default task, 1)");
  return tasks_[size_t(id - 1)];
}

std::vector<int> MazeLayout::bfs_distances(Cell goal) const {
  std::vector<int> d(size_t(rows_ * cols_), -1);
  if (is_wall(goal)) return d;
  d[size_t(index(goal))] = 0;
  std::deque<Cell> queue{goal};
  constexpr int kDi[4] = {-1, 0, 1, 0};
  constexpr int kDj[4] = {0, -1, 0, 1};
  while (!queue.empty()) {
    const Cell c = queue.front();
    queue.pop_front();
    for (int k = 0; k < 4; ++k) {
      const Cell n{c.i + kDi[k], c.j + kDj[k]};
      if (is_free(n) && d[size_t(index(n))] == -1) {
        d[size_t(index(n))] = d[size_t(index(c))] + 1;
        queue.push_back(n);
      }
    }
  }
  return d;
}

const std::vector<int>& MazeLayout::distances_to(Cell goal) const {
  if (is_wall(goal))
    fail("BFS goal " + cell_str(goal) + " is a wall (or outside the " + std::to_string(rows_) + "x" +
             std::to_string(cols_) + " grid) of maze '" + name_ + "'",
         "goals must be free cells");
  return dist_[size_t(index(goal))];
}

Cell MazeLayout::next_cell(Cell from, Cell goal) const {
  const std::vector<int>& d = distances_to(goal);
  // A wall or out-of-grid `from` compares as -1, OGBench's value for cells the BFS never labelled, so no
  // neighbour beats it and the subgoal stays put.
  auto value = [&](Cell c) { return is_wall(c) ? -1 : d[size_t(index(c))]; };
  Cell best = from;
  constexpr int kDi[4] = {-1, 0, 1, 0};
  constexpr int kDj[4] = {0, -1, 0, 1};
  for (int k = 0; k < 4; ++k) {
    const Cell n{from.i + kDi[k], from.j + kDj[k]};
    if (is_free(n) && d[size_t(index(n))] < value(best)) best = n;
  }
  return best;
}

}  // namespace rl
