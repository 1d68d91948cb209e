// Maze layouts of OGBench's locomotion mazes (ogbench/locomaze/maze.py), as char grids, with the cell <->
// world coordinate maps, the five evaluation tasks of each maze and the BFS over cells that the data oracle
// uses.
//
// Conventions follow OGBench so that numbers can be compared with it directly:
//  * a cell is (i, j): i is the row (world y), j the column (world x); row 0 is the smallest y, so the grids
//    below read upside down when y points up on a plot;
//  * the centre of cell (i, j) is (x, y) = (j * unit - 4, i * unit - 4) with unit = 4 (maze_unit; the offset
//  4
//    puts cell (1, 1), the first free cell, at the origin);
//  * a point (x, y) lies in cell (int((y + 4 + unit / 2) / unit), int((x + 4 + unit / 2) / unit)).
// The border of every layout is wall, so any position the point mass can reach maps to a cell in the grid.
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace rl {

struct Cell {
  int i = 0;  // row (y)
  int j = 0;  // column (x)
  bool operator==(const Cell&) const = default;
};

struct Vec2 {
  double x = 0.0;
  double y = 0.0;
};

// A task of the single-task benchmark (<maze>-singletask-task{1..5}): start and goal cells.
struct MazeTask {
  Cell start;
  Cell goal;
};

class MazeLayout {
 public:
  static constexpr double kUnit = 4.0;           // maze_unit: side of a cell in world units
  static constexpr double kOffset = 4.0;         // _offset_x = _offset_y
  static constexpr double kWallHeight = 0.5;     // maze_height, in units: walls are kUnit * kWallHeight tall
  static constexpr double kCellNoise = 1.0;      // start/goal noise: uniform in [-1, 1] * kUnit / 4 per axis
  static constexpr double kGoalTolerance = 1.0;  // success: distance to the goal <= 1 (point mazes)

  // The layouts by name: "medium" (8x8), "large" (9x12), "giant" (12x16). Unknown names throw, listing these.
  static const MazeLayout& get(std::string_view name);
  static std::vector<std::string> names();

  // A layout from rows of '#' (wall) and '.' (free); the border must be wall and every free cell reachable.
  // `tasks` may be empty. Used for the built-in mazes and by tests.
  MazeLayout(std::string name, std::vector<std::string> rows, std::vector<MazeTask> tasks);

  const std::string& name() const { return name_; }
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  const std::vector<std::string>& grid() const { return grid_; }
  // Cells outside the grid count as walls.
  bool is_wall(Cell c) const;
  bool is_free(Cell c) const { return !is_wall(c); }
  int index(Cell c) const {
    return c.i * cols_ + c.j;
  }  // row-major flat index (the cell must be in the grid)

  Vec2 cell_center(Cell c) const;  // OGBench ij_to_xy
  // OGBench xy_to_ij (int() truncation as in Python); the result is clamped into the grid so that a position
  // outside it (impossible for the simulated point, which walls keep inside) cannot index out of range.
  Cell cell_of(Vec2 p) const;

  // The single-task tasks; `id` is 1-based as in the env names (task1..task5). 0 means the default task (1).
  const std::vector<MazeTask>& tasks() const { return tasks_; }
  const MazeTask& task(int id) const;

  // Free cells in row-major order (the data generator's start cells: OGBench's all_cells).
  const std::vector<Cell>& free_cells() const { return free_; }
  // Free cells that are not straight hallway cells (free above and below with walls left and right, or the
  // transpose): the data generator's goal cells (OGBench's vertex_cells), in row-major order.
  const std::vector<Cell>& vertex_cells() const { return vertex_; }

  // BFS step counts from `goal` over free cells with 4-neighbour moves, indexed by index(cell); -1 for walls
  // and unreachable cells (OGBench's bfs_map).
  std::vector<int> bfs_distances(Cell goal) const;
  // The cached BFS map to `goal` (computed once per goal cell when the layout is built).
  const std::vector<int>& distances_to(Cell goal) const;
  // OGBench's subgoal rule: among the 4 neighbours of `from` (order: i-1, j-1, i+1, j+1), the free one with
  // the smallest BFS value that is strictly smaller than from's own value; `from` itself if there is none (at
  // the goal, or from a cell the BFS did not reach).
  Cell next_cell(Cell from, Cell goal) const;

 private:
  std::string name_;
  int rows_ = 0;
  int cols_ = 0;
  std::vector<std::string> grid_;
  std::vector<MazeTask> tasks_;
  std::vector<Cell> free_;
  std::vector<Cell> vertex_;
  std::vector<std::vector<int>> dist_;  // per goal cell index (empty for walls)
};

}  // namespace rl
