// Point maze (rl/envs): layouts, coordinate maps and tasks against OGBench's values
// (ogbench/locomaze/maze.py, v1.2; quoted in the comments), BFS, the single-task episode rules (reward =
// success - 1 judged before the action, termination, truncation), kinematic motion and wall contacts on
// MuJoCo, input validation, the noiseless oracle solving the tasks, the evaluation batch, and the navigate
// data generator (determinism, layout, physics consistency, loading through rl::load_dataset, single-task
// relabelling).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "tests/support/testing.h"
#include "engine/core/error.h"
#include "rl/data/dataset.h"
#include "rl/data/npz.h"
#include "rl/data/npz_writer.h"
#include "rl/envs/maze_layouts.h"
#include "rl/envs/oracle.h"
#include "rl/envs/pointmaze.h"

namespace {

namespace fs = std::filesystem;
using engine::Tensor;
using rl::Cell;
using rl::MazeLayout;
using rl::Vec2;

double dist(Vec2 a, Vec2 b) { return std::sqrt((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)); }

// ---------------------------------------------------------------------------------------------------------
// Layouts

TEST(MazeLayout, DimensionsAndCellsMatchOgbench) {
  const MazeLayout& m = MazeLayout::get("medium");
  const MazeLayout& l = MazeLayout::get("large");
  EXPECT_EQ(m.rows(), 8);  // maze_map 'medium': 8 rows of 8
  EXPECT_EQ(m.cols(), 8);
  EXPECT_EQ(l.rows(), 9);  // maze_map 'large': 9 rows of 12
  EXPECT_EQ(l.cols(), 12);
  EXPECT_EQ(MazeLayout::get("giant").rows(), 12);
  EXPECT_EQ(MazeLayout::get("giant").cols(), 16);
  // medium row 1 = [1, 0, 0, 1, 1, 0, 0, 1], row 3 = [1, 1, 0, 0, 0, 1, 1, 1].
  const int row1[8] = {1, 0, 0, 1, 1, 0, 0, 1};
  const int row3[8] = {1, 1, 0, 0, 0, 1, 1, 1};
  for (int j = 0; j < 8; ++j) {
    EXPECT_EQ(m.is_wall({1, j}), row1[j] == 1) << j;
    EXPECT_EQ(m.is_wall({3, j}), row3[j] == 1) << j;
  }
  // large row 2 = [1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1], row 6 = [1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1].
  const int lrow2[12] = {1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1};
  const int lrow6[12] = {1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1};
  for (int j = 0; j < 12; ++j) {
    EXPECT_EQ(l.is_wall({2, j}), lrow2[j] == 1) << j;
    EXPECT_EQ(l.is_wall({6, j}), lrow6[j] == 1) << j;
  }
  EXPECT_TRUE(m.is_wall({-1, 3}));  // outside the grid counts as wall
  EXPECT_TRUE(m.is_wall({3, 8}));
  // Free / vertex cells as generate_locomaze.py counts them: medium 26 free, hallways (3,3) (4,5) (5,1) (5,6)
  // (6,2) excluded -> 21; large 46 free, 24 hallways -> 22.
  EXPECT_EQ(m.free_cells().size(), 26u);
  EXPECT_EQ(m.vertex_cells().size(), 21u);
  EXPECT_EQ(l.free_cells().size(), 46u);
  EXPECT_EQ(l.vertex_cells().size(), 22u);
  for (Cell c : {Cell{3, 3}, Cell{4, 5}, Cell{5, 1}, Cell{5, 6}, Cell{6, 2}}) {
    for (Cell v : m.vertex_cells()) {
      EXPECT_FALSE(v == c) << c.i << "," << c.j;
    }
  }
}

TEST(MazeLayout, CellAndWorldCoordinates) {
  const MazeLayout& m = MazeLayout::get("medium");
  // ij_to_xy: x = 4 j - 4, y = 4 i - 4.
  EXPECT_EQ(m.cell_center({1, 1}).x, 0.0);
  EXPECT_EQ(m.cell_center({1, 1}).y, 0.0);
  EXPECT_EQ(m.cell_center({6, 6}).x, 20.0);
  EXPECT_EQ(m.cell_center({2, 5}).x, 16.0);
  EXPECT_EQ(m.cell_center({2, 5}).y, 4.0);
  // xy_to_ij: i = int((y + 6) / 4), j = int((x + 6) / 4); cells are 4 wide, centred on the centres.
  EXPECT_EQ(m.cell_of({0, 0}), (Cell{1, 1}));
  EXPECT_EQ(m.cell_of({1.99, -1.99}), (Cell{1, 1}));
  EXPECT_EQ(m.cell_of({2.0, 0}), (Cell{1, 2}));
  EXPECT_EQ(m.cell_of({-1.999, 2.0}), (Cell{2, 1}));
  EXPECT_EQ(m.cell_of({1e6, -1e6}), (Cell{0, 7}));  // clamped into the grid
  for (const MazeLayout* lay : {&m, &MazeLayout::get("large")})
    for (int i = 0; i < lay->rows(); ++i)
      for (int j = 0; j < lay->cols(); ++j) {
        const Vec2 c = lay->cell_center({i, j});
        for (double dx : {-1.9, 0.0, 1.9})
          for (double dy : {-1.9, 0.0, 1.9}) EXPECT_EQ(lay->cell_of({c.x + dx, c.y + dy}), (Cell{i, j}));
      }
}

TEST(MazeLayout, TasksMatchOgbench) {
  const MazeLayout& m = MazeLayout::get("medium");
  const MazeLayout& l = MazeLayout::get("large");
  // medium tasks: [(1,1),(6,6)], [(6,1),(1,6)], [(5,3),(4,2)], [(6,5),(6,1)], [(2,6),(1,1)].
  const Cell ms[5][2] = {
      {{1, 1}, {6, 6}}, {{6, 1}, {1, 6}}, {{5, 3}, {4, 2}}, {{6, 5}, {6, 1}}, {{2, 6}, {1, 1}}};
  // large tasks: [(1,1),(7,10)], [(5,4),(7,1)], [(7,4),(1,10)], [(3,8),(5,4)], [(1,1),(5,4)].
  const Cell ls[5][2] = {
      {{1, 1}, {7, 10}}, {{5, 4}, {7, 1}}, {{7, 4}, {1, 10}}, {{3, 8}, {5, 4}}, {{1, 1}, {5, 4}}};
  for (int t = 1; t <= 5; ++t) {
    EXPECT_EQ(m.task(t).start, ms[t - 1][0]);
    EXPECT_EQ(m.task(t).goal, ms[t - 1][1]);
    EXPECT_EQ(l.task(t).start, ls[t - 1][0]);
    EXPECT_EQ(l.task(t).goal, ls[t - 1][1]);
  }
  // task1 goal_xy: medium (20, 20), large (36, 24); both start at (0, 0).
  EXPECT_EQ(m.cell_center(m.task(1).goal).x, 20.0);
  EXPECT_EQ(m.cell_center(m.task(1).goal).y, 20.0);
  EXPECT_EQ(l.cell_center(l.task(1).goal).x, 36.0);
  EXPECT_EQ(l.cell_center(l.task(1).goal).y, 24.0);
  EXPECT_EQ(m.task(0).goal, m.task(1).goal);  // task id 0 = default task = task1
  testing_support::expect_error_mentioning([&] { (void)m.task(6); }, "1..5");
  testing_support::expect_error_mentioning([] { (void)MazeLayout::get("huge"); }, "medium, large");
}

TEST(MazeLayout, BfsDistancesAndNextCells) {
  const MazeLayout& m = MazeLayout::get("medium");
  const MazeLayout& l = MazeLayout::get("large");
  // Shortest cell paths of the tasks (OGBench's bfs_map at the start cell) and the first subgoal cell.
  EXPECT_EQ(m.distances_to({6, 6})[size_t(m.index({1, 1}))], 10);
  EXPECT_EQ(m.next_cell({1, 1}, {6, 6}), (Cell{2, 1}));
  EXPECT_EQ(m.distances_to({1, 6})[size_t(m.index({6, 1}))], 10);
  EXPECT_EQ(m.next_cell({6, 1}, {1, 6}), (Cell{5, 1}));
  EXPECT_EQ(m.distances_to({4, 2})[size_t(m.index({5, 3}))], 6);
  EXPECT_EQ(m.next_cell({5, 3}, {4, 2}), (Cell{6, 3}));
  EXPECT_EQ(l.distances_to({7, 10})[size_t(l.index({1, 1}))], 15);
  EXPECT_EQ(l.distances_to({7, 1})[size_t(l.index({5, 4}))], 19);
  EXPECT_EQ(l.next_cell({5, 4}, {7, 1}), (Cell{6, 4}));
  EXPECT_EQ(m.next_cell({6, 6}, {6, 6}), (Cell{6, 6}));  // at the goal the subgoal stays
  EXPECT_EQ(m.next_cell({0, 0}, {6, 6}), (Cell{0, 0}));  // from a wall cell too (OGBench's -1 comparison)
  // Properties of every BFS map: walls -1, goal 0, every other free cell has a neighbour one step closer and
  // none more than one step closer; next_cell always moves one step closer.
  for (const MazeLayout* lay : {&m, &l})
    for (Cell g : lay->free_cells()) {
      const auto& d = lay->distances_to(g);
      EXPECT_EQ(d, lay->bfs_distances(g));
      for (int i = 0; i < lay->rows(); ++i)
        for (int j = 0; j < lay->cols(); ++j) {
          const Cell c{i, j};
          const int v = d[size_t(lay->index(c))];
          if (lay->is_wall(c)) {
            EXPECT_EQ(v, -1);
            continue;
          }
          ASSERT_GE(v, 0);
          if (c == g) {
            EXPECT_EQ(v, 0);
            continue;
          }
          const Cell n = lay->next_cell(c, g);
          EXPECT_EQ(std::abs(n.i - c.i) + std::abs(n.j - c.j), 1);
          EXPECT_EQ(d[size_t(lay->index(n))], v - 1);
          for (Cell nb : {Cell{i - 1, j}, Cell{i + 1, j}, Cell{i, j - 1}, Cell{i, j + 1}}) {
            if (lay->is_free(nb)) {
              EXPECT_GE(d[size_t(lay->index(nb))], v - 1);
            }
          }
        }
    }
}

TEST(MazeLayout, RejectsBadGrids) {
  testing_support::expect_error_mentioning([] { MazeLayout("x", {"###", "#.", "###"}, {}); }, "same length");
  testing_support::expect_error_mentioning([] { MazeLayout("x", {"###", "#..", "###"}, {}); }, "border");
  testing_support::expect_error_mentioning([] { MazeLayout("x", {"#####", "#.#.#", "#####"}, {}); }, "cannot be reached");
  testing_support::expect_error_mentioning([] { MazeLayout("x", {"###", "#a#", "###"}, {}); }, "'#' for walls");
  testing_support::expect_error_mentioning([] { MazeLayout("x", {"####", "#..#", "####"}, {{{1, 1}, {0, 0}}}); }, "wall cell");
}

// ---------------------------------------------------------------------------------------------------------
// Environment

TEST(PointMaze, ModelIsOgbenchsPointMass) {
  rl::PointMassSim sim(MazeLayout::get("medium"));
  const mjModel_* m = sim.model();
  ASSERT_NE(m, nullptr);
  const std::string xml = rl::pointmaze_mjcf(MazeLayout::get("medium"));
  // point.xml: timestep 0.02, RK4; sphere radius 0.7, density 100 -> mass 100 * 4/3 pi 0.7^3 = 143.6755.
  EXPECT_NE(xml.find("timestep=\"0.02\" integrator=\"RK4\""), std::string::npos);
  EXPECT_NE(xml.find("type=\"sphere\" size=\"0.7\""), std::string::npos);
  // One wall box per '#' cell: medium has 64 - 26 = 38; block_0_0 sits at (-4, -4, 1) with half-size (2, 2,
  // 1).
  size_t boxes = 0;
  for (size_t p = xml.find("type=\"box\""); p != std::string::npos; p = xml.find("type=\"box\"", p + 1))
    ++boxes;
  EXPECT_EQ(boxes, 38u);
  EXPECT_NE(xml.find("name=\"block_0_0\" type=\"box\" pos=\"-4 -4 1\" size=\"2 2 1\""), std::string::npos);
}

TEST(PointMaze, ResetPlacesTheStartWithNoiseAndTheGoalExactly) {
  for (const char* maze : {"medium", "large"})
    for (int task = 1; task <= 5; ++task) {
      rl::PointMaze env(maze, {task});
      const MazeLayout& lay = env.layout();
      const Vec2 s = lay.cell_center(lay.task(task).start);
      for (uint64_t seed = 0; seed < 20; ++seed) {
        const auto ob = env.reset(seed);
        EXPECT_LE(std::abs(ob[0] - s.x), 1.0);  // add_noise: U(-1, 1) * maze_unit / 4 per axis
        EXPECT_LE(std::abs(ob[1] - s.y), 1.0);
        EXPECT_EQ(env.goal().x, lay.cell_center(lay.task(task).goal).x);  // single-task: goal without noise
        EXPECT_EQ(env.goal().y, lay.cell_center(lay.task(task).goal).y);
      }
    }
  rl::PointMaze env("medium");
  const auto a = env.reset(7), b = env.reset(7), c = env.reset(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(PointMaze, FreeMotionIsAKinematicMoveOfPointTwoTimesTheAction) {
  rl::PointMaze env("medium");
  env.reset(uint64_t(0));
  env.sim().set_state({0, 0}, {0, 0});
  auto r = env.step(1.0, 0.5);
  EXPECT_NEAR(r.obs[0], 0.2, 1e-12);
  EXPECT_NEAR(r.obs[1], 0.1, 1e-12);
  r = env.step(-0.25, 0.0);
  EXPECT_NEAR(r.obs[0], 0.15, 1e-12);
  EXPECT_NEAR(r.obs[1], 0.1, 1e-12);
  EXPECT_EQ(env.sim().velocity().x, 0.0);  // qvel is zeroed each step and nothing else acts in free space
  EXPECT_EQ(env.elapsed_steps(), 2);
}

TEST(PointMaze, WallsBlockMotion) {
  // medium cell (1, 1) spans x, y in [-2, 2]; (1, 0) and (0, 1) are walls, so faces are at x = -2 and y = -2.
  // The sphere (radius 0.7) touches a face at centre distance 0.7; each step moves it 0.2 into the wall and
  // the soft contact pushes it back out during the 5 physics steps. Reference values (OGBench 1.2 + MuJoCo 3,
  // same pushes from (0, 0)): 300 x (-1, 0) -> x = -1.34307693; 300 x (-1, -1) -> (-1.34551761, -1.34551761);
  // then 20 x (-1, 1) -> (-1.34204603, 2.64058589).
  rl::PointMaze env("medium", {1, 1000000});
  env.reset(uint64_t(0));
  env.sim().set_state({0, 0}, {0, 0});
  double min_x = 0;
  for (int k = 0; k < 300; ++k) {
    const auto r = env.step(-1.0, 0.0);
    min_x = std::min(min_x, r.obs[0]);
    EXPECT_NEAR(r.obs[1], 0.0, 1e-9);  // a head-on push does not move it sideways
  }
  EXPECT_GT(min_x, -2.0 + 0.7 - 0.1);  // never deeper than a fraction of one push
  EXPECT_NEAR(env.xy().x, -1.34307693, 1e-6);
  // Into the corner (x and y walls at once), then along the wall: it slides, it does not stick.
  env.sim().set_state({0, 0}, {0, 0});
  for (int k = 0; k < 300; ++k) env.step(-1.0, -1.0);
  EXPECT_NEAR(env.xy().x, -1.34551761, 1e-6);
  EXPECT_NEAR(env.xy().y, -1.34551761, 1e-6);
  for (int k = 0; k < 20; ++k) env.step(-1.0, 1.0);  // up along the x wall: cell (2, 1) above is free
  EXPECT_NEAR(env.xy().x, -1.34204603, 1e-6);
  EXPECT_NEAR(env.xy().y, 2.64058589, 1e-6);
  // A long push up the corridor x = 0 of medium ends at the wall of cell (3, 1) (face y = 6).
  env.sim().set_state({0, 0}, {0, 0});
  double max_y = 0;
  for (int k = 0; k < 300; ++k) max_y = std::max(max_y, env.step(0.0, 1.0).obs[1]);
  EXPECT_LT(max_y, 6.0 - 0.7 + 0.1);
  EXPECT_NEAR(env.xy().y, 6.0 - 0.7 + 0.04307693, 1e-6);  // the same contact equilibrium as the x push
  EXPECT_EQ(env.layout().cell_of(env.xy()), (Cell{2, 1}));
}

TEST(PointMaze, RewardIsSuccessMinusOneJudgedBeforeTheActionAndSuccessTerminates) {
  rl::PointMaze env("medium", {1});
  env.reset(uint64_t(3));
  const Vec2 g = env.goal();  // (20, 20)
  // Far away: reward -1, not terminated.
  auto r = env.step(0.0, 0.0);
  EXPECT_EQ(r.reward, -1.0);
  EXPECT_FALSE(r.terminated);
  EXPECT_FALSE(r.success);
  // 1.1 from the goal, moving 0.2 towards it: the step is judged on the state it starts from ('pre'), so the
  // first step still pays -1 and the episode ends one step later.
  env.sim().set_state({g.x - 1.1, g.y}, {0, 0});
  r = env.step(1.0, 0.0);
  EXPECT_EQ(r.reward, -1.0);
  EXPECT_FALSE(r.terminated);
  EXPECT_TRUE(env.is_success());
  r = env.step(1.0, 0.0);
  EXPECT_EQ(r.reward, 0.0);
  EXPECT_TRUE(r.terminated);
  EXPECT_TRUE(r.success);
  EXPECT_FALSE(r.truncated);
  EXPECT_NEAR(r.obs[0], g.x - 0.7, 1e-12);  // the terminating step is still simulated
  EXPECT_TRUE(env.done());
  testing_support::expect_error_mentioning([&] { env.step(0.0, 0.0); }, "call reset");
  // Exactly at the tolerance (distance 1) counts as success (<=).
  env.reset(uint64_t(3));
  env.sim().set_state({g.x, g.y - 1.0}, {0, 0});
  EXPECT_TRUE(env.step(0.0, 0.0).terminated);
}

TEST(PointMaze, TruncatesAtTheTimeLimit) {
  rl::PointMaze env("large", {2, 5});
  env.reset(uint64_t(1));
  for (int k = 0; k < 4; ++k) EXPECT_FALSE(env.step(0.0, 0.0).truncated);
  const auto r = env.step(0.0, 0.0);
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.terminated);
  EXPECT_TRUE(env.done());
  EXPECT_EQ(rl::PointMaze("medium").options().max_episode_steps, 1000);  // OGBench's max_episode_steps
}

TEST(PointMaze, ValidatesActions) {
  rl::PointMaze env("medium");
  testing_support::expect_error_mentioning([&] { env.step(0.0, 0.0); }, "before reset");
  env.reset(uint64_t(0));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  testing_support::expect_error_mentioning([&] { env.step(nan, 0.0); }, "not finite");
  testing_support::expect_error_mentioning([&] { env.step(0.0, std::numeric_limits<double>::infinity()); }, "not finite");
  const std::vector<double> three = {0, 0, 0};
  testing_support::expect_error_mentioning([&] { env.step(std::span<const double>(three)); }, "expected 2");
  const std::vector<float> one = {0};
  testing_support::expect_error_mentioning([&] { env.step(std::span<const float>(one)); }, "expected 2");
  // Out-of-range actions are clipped by default (0.2 per step at most) and passed through when asked.
  env.sim().set_state({0, 0}, {0, 0});
  EXPECT_NEAR(env.step(5.0, 0.0).obs[0], 0.2, 1e-12);
  rl::PointMaze raw("medium", {1, 1000, false});
  raw.reset(uint64_t(0));
  raw.sim().set_state({0, 0}, {0, 0});
  EXPECT_NEAR(raw.step(5.0, 0.0).obs[0], 1.0, 1e-12);
  testing_support::expect_error_mentioning([] { rl::PointMaze("medium", {1, 0}); }, "max_episode_steps");
}

// ---------------------------------------------------------------------------------------------------------
// Oracle

TEST(MazeOracle, NoiselessOracleSolvesEveryTaskWithinTheEpisode) {
  // OGBench + MuJoCo 3 needs 160-164 steps for medium task1 and 260 for large task1 from near the start
  // centre.
  for (const char* maze : {"medium", "large"})
    for (int task = 1; task <= 5; ++task) {
      rl::PointMaze env(maze, {task});
      const rl::MazeOracle oracle(env.layout());
      rl::Rng unused(0);
      env.reset(uint64_t(task));
      rl::PointMazeStep r;
      while (!env.done()) {
        const auto a = oracle.action(env.xy(), env.goal(), 0.0, unused);
        r = env.step(a[0], a[1]);
      }
      EXPECT_TRUE(r.success) << maze << " task" << task;
      EXPECT_TRUE(r.terminated) << maze << " task" << task;
      EXPECT_LT(env.elapsed_steps(), 400) << maze << " task" << task;
      if (std::string(maze) == "medium" && task == 1) {
        EXPECT_GT(env.elapsed_steps(), 140);
        EXPECT_LT(env.elapsed_steps(), 180);
      }
    }
}

TEST(MazeOracle, DirectionPointsAtTheNextCellCentre) {
  const MazeLayout& m = MazeLayout::get("medium");
  const rl::MazeOracle o(m);
  // From (0.5, 0) in cell (1, 1) towards the task1 goal: next cell (2, 1), centre (0, 4).
  const Vec2 s = o.subgoal({0.5, 0.0}, {20, 20});
  EXPECT_EQ(s.x, 0.0);
  EXPECT_EQ(s.y, 4.0);
  const Vec2 d = o.direction({0.5, 0.0}, {20, 20});
  const double n = std::sqrt(0.25 + 16.0) + 1e-6;
  EXPECT_DOUBLE_EQ(d.x, -0.5 / n);
  EXPECT_DOUBLE_EQ(d.y, 4.0 / n);
  // In the goal cell the subgoal is that cell's centre (not the goal point itself).
  const Vec2 c = o.subgoal({19.0, 21.0}, {20.5, 19.5});
  EXPECT_EQ(c.x, 20.0);
  EXPECT_EQ(c.y, 20.0);
  // Noise: clipped to [-1, 1], and its spread is the requested std (checked on the unclipped axis mean).
  rl::Rng rng(5);
  double sum = 0, sq = 0;
  const int n_draws = 20000;
  for (int k = 0; k < n_draws; ++k) {
    const auto a = o.action({0.0, 0.0}, {20, 20}, 0.1, rng);  // direction (0, 1): x noise is unclipped mostly
    EXPECT_LE(std::abs(a[0]), 1.0);
    EXPECT_LE(std::abs(a[1]), 1.0);
    sum += a[0];
    sq += a[0] * a[0];
  }
  EXPECT_NEAR(sum / n_draws, 0.0, 0.005);
  EXPECT_NEAR(std::sqrt(sq / n_draws), 0.1, 0.005);
}

// ---------------------------------------------------------------------------------------------------------
// Batch

TEST(PointMazeBatch, MatchesSingleEnvsAndRunsToCompletion) {
  const int n = 4;
  rl::PointMazeBatch batch("medium", n, {3});
  Tensor obs = batch.reset(11);
  ASSERT_EQ(obs.shape(), (engine::Shape{n, 2}));
  for (int k = 0; k < n; ++k) {
    rl::PointMaze single("medium", {3});
    rl::Rng rng = rl::Rng::stream(11, uint64_t(k));
    const auto ob = single.reset(rng);
    EXPECT_EQ(obs.to_vector<float>()[size_t(2 * k)], float(ob[0]));
  }
  testing_support::expect_error_mentioning([&] { batch.step(Tensor::from_vector(std::vector<float>(6, 0.f), {3, 2})); }, "f32[4,2]");
  std::vector<float> bad(2 * n, 0.f);
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  testing_support::expect_error_mentioning([&] { batch.step(Tensor::from_vector(bad, {n, 2})); }, "row 2");
  // Oracle policy; env 0 is driven with zeros so it only truncates.
  const rl::MazeOracle oracle(MazeLayout::get("medium"));
  rl::Rng unused(0);
  int steps = 0;
  while (!batch.all_done()) {
    std::vector<float> a(2 * n, 0.f);
    for (int k = 1; k < n; ++k) {
      const auto act = oracle.action(batch.env(k).xy(), batch.env(k).goal(), 0.0, unused);
      a[size_t(2 * k)] = float(act[0]);
      a[size_t(2 * k + 1)] = float(act[1]);
    }
    const std::vector<uint8_t> before = batch.done();
    const auto r = batch.step(Tensor::from_vector(a, {n, 2}));
    ++steps;
    const auto rewards = r.rewards.to_vector<float>();
    for (int k = 0; k < n; ++k) {
      const float expected = before[size_t(k)] ? 0.f : (r.success[size_t(k)] ? 0.f : -1.f);
      EXPECT_EQ(rewards[size_t(k)], expected) << k;
      if (before[size_t(k)]) {
        EXPECT_FALSE(r.terminated[size_t(k)] || r.truncated[size_t(k)]) << k;
      }
    }
  }
  EXPECT_EQ(steps, 1000);
  EXPECT_EQ(batch.final_success()[0], 0);
  for (int k = 1; k < n; ++k) EXPECT_EQ(batch.final_success()[size_t(k)], 1) << k;
  EXPECT_DOUBLE_EQ(batch.success_rate(), 0.75);
}

// ---------------------------------------------------------------------------------------------------------
// Data generation

rl::NavigateDataConfig small_config(uint64_t seed, int threads = 0) {
  rl::NavigateDataConfig c;
  c.episodes = 6;
  c.steps_per_episode = 201;
  c.seed = seed;
  c.threads = threads;
  return c;
}

TEST(NavigateData, IsDeterministicGivenTheSeedWhateverTheThreadCount) {
  const MazeLayout& m = MazeLayout::get("medium");
  auto a = rl::generate_navigate_data(m, small_config(1, 1));
  auto b = rl::generate_navigate_data(m, small_config(1, 2));
  auto c = rl::generate_navigate_data(m, small_config(2));
  ASSERT_EQ(a.size(), 5u);
  for (const char* key : {"observations", "actions", "qpos", "qvel"}) {
    EXPECT_EQ(a.at(key).to_vector<float>(), b.at(key).to_vector<float>()) << key;
    EXPECT_NE(a.at(key).to_vector<float>(), c.at(key).to_vector<float>()) << key;
  }
  EXPECT_EQ(a.at("terminals").to_vector<bool>(), b.at("terminals").to_vector<bool>());
}

TEST(NavigateData, HasOgbenchsLayoutAndConsistentPhysics) {
  const MazeLayout& m = MazeLayout::get("medium");
  const rl::NavigateDataConfig cfg = small_config(4);
  auto d = rl::generate_navigate_data(m, cfg);
  const int64_t n = int64_t(cfg.episodes) * cfg.steps_per_episode;
  EXPECT_EQ(d.at("observations").shape(), (engine::Shape{n, 2}));
  EXPECT_EQ(d.at("actions").shape(), (engine::Shape{n, 2}));
  EXPECT_EQ(d.at("terminals").shape(), (engine::Shape{n}));
  EXPECT_EQ(d.at("terminals").dtype(), engine::DType::Bool);  // np.savez_compressed of a bool list
  const auto obs = d.at("observations").to_vector<float>();
  const auto act = d.at("actions").to_vector<float>();
  const auto qpos = d.at("qpos").to_vector<float>();
  const auto qvel = d.at("qvel").to_vector<float>();
  const auto term = d.at("terminals").to_vector<bool>();
  EXPECT_EQ(obs, qpos);  // point-maze observations are qpos
  int free_moves = 0;
  for (int64_t r = 0; r < n; ++r) {
    EXPECT_EQ(bool(term[size_t(r)]), (r + 1) % cfg.steps_per_episode == 0) << r;
    EXPECT_LE(std::abs(act[size_t(2 * r)]), 1.f);
    EXPECT_LE(std::abs(act[size_t(2 * r + 1)]), 1.f);
    EXPECT_FALSE(m.is_wall(m.cell_of({obs[size_t(2 * r)], obs[size_t(2 * r + 1)]})));
    if (r % cfg.steps_per_episode == 0) {
      // First state: a free cell centre + U(-1, 1).
      const Cell c = m.cell_of({obs[size_t(2 * r)], obs[size_t(2 * r + 1)]});
      EXPECT_LE(std::abs(obs[size_t(2 * r)] - m.cell_center(c).x), 1.0);
      continue;
    }
    // Within an episode: without contact (qvel stays 0 after the step), the move is exactly 0.2 * action.
    if (qvel[size_t(2 * r)] == 0.f && qvel[size_t(2 * r + 1)] == 0.f) {
      ++free_moves;
      EXPECT_NEAR(obs[size_t(2 * r)] - obs[size_t(2 * r - 2)], 0.2f * act[size_t(2 * r - 2)], 1e-5);
      EXPECT_NEAR(obs[size_t(2 * r + 1)] - obs[size_t(2 * r - 1)], 0.2f * act[size_t(2 * r - 1)], 1e-5);
    }
  }
  EXPECT_GT(free_moves, n / 2);
  // The oracle makes progress: episodes do not stay in their start cell.
  std::vector<int> visits(size_t(m.rows() * m.cols()), 0);
  for (int64_t r = 0; r < n; ++r)
    visits[size_t(m.index(m.cell_of({obs[size_t(2 * r)], obs[size_t(2 * r + 1)]})))]++;
  int visited = 0;
  for (int v : visits) visited += v > 0;
  EXPECT_GE(visited, 10);
}

TEST(NavigateData, WrittenFileLoadsAsADatasetAndRelabels) {
  const fs::path dir = fs::temp_directory_path() / ("qgf_test_pointmaze_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "pointmaze-medium-navigate-v0.npz").string();
  const MazeLayout& m = MazeLayout::get("medium");
  rl::NavigateDataConfig cfg = small_config(9);
  cfg.episodes = 10;
  rl::write_navigate_dataset(path, m, cfg);
  ASSERT_TRUE(fs::exists(dir / "pointmaze-medium-navigate-v0-val.npz"));
  rl::NpzFile f = rl::NpzFile::open(path);
  for (const char* key : {"observations", "actions", "terminals", "qpos", "qvel"})
    EXPECT_TRUE(f.contains(key));
  rl::Dataset ds = rl::load_dataset(path);
  // Each 201-row episode gives 200 transitions (the last row has no successor).
  EXPECT_EQ(ds.size(), 10 * 200);
  EXPECT_EQ(ds.obs_dim(), 2);
  EXPECT_EQ(ds.action_dim(), 2);
  const auto o = ds.observations.to_vector<float>(), no = ds.next_observations.to_vector<float>();
  for (int64_t t = 0; t + 1 < ds.size(); ++t)
    if (ds.terminals.to_vector<float>()[size_t(t)] == 0.f) {
      ASSERT_EQ(no[size_t(2 * t)], o[size_t(2 * t + 2)]);
    }
  rl::Dataset val = rl::load_dataset((dir / "pointmaze-medium-navigate-v0-val.npz").string());
  EXPECT_EQ(val.size(), 1 * 200);  // episodes / 10
  // The validation episodes continue the streams, so they differ from the first train episode.
  EXPECT_NE(val.observations.to_vector<float>()[0], o[0]);

  // Single-task relabelling (relabel_utils.py): success = within 1 of the exact goal centre.
  rl::Dataset rl1 = rl::relabel_pointmaze_singletask(ds, m, 1);
  EXPECT_TRUE(rl1.has_rewards);
  const auto rew = rl1.rewards.to_vector<float>(), mask = rl1.masks.to_vector<float>();
  int successes = 0;
  for (int64_t t = 0; t < ds.size(); ++t) {
    const double dd = dist({o[size_t(2 * t)], o[size_t(2 * t + 1)]}, {20, 20});
    EXPECT_EQ(rew[size_t(t)], dd <= 1.0 ? 0.f : -1.f);
    EXPECT_EQ(mask[size_t(t)], dd <= 1.0 ? 0.f : 1.f);
    successes += dd <= 1.0;
  }
  (void)successes;  // may be 0 for so little data: the check above is per row
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(NavigateData, RejectsBadConfigurations) {
  const MazeLayout& m = MazeLayout::get("medium");
  rl::NavigateDataConfig c = small_config(0);
  c.episodes = 0;
  testing_support::expect_error_mentioning([&] { rl::generate_navigate_data(m, c); }, "episodes");
  c = small_config(0);
  c.steps_per_episode = 1;
  testing_support::expect_error_mentioning([&] { rl::generate_navigate_data(m, c); }, "steps_per_episode");
  c = small_config(0);
  c.noise = std::numeric_limits<double>::quiet_NaN();
  testing_support::expect_error_mentioning([&] { rl::generate_navigate_data(m, c); }, "noise");
  testing_support::expect_error_mentioning([&] { rl::write_navigate_dataset("/tmp/x.npy", m, small_config(0)); }, ".npz");
  EXPECT_EQ(rl::navigate_defaults(m).episodes, 1000);
  EXPECT_EQ(rl::navigate_defaults(m).steps_per_episode, 1001);
  EXPECT_EQ(rl::navigate_defaults(m).noise, 0.5);
  EXPECT_EQ(rl::navigate_defaults(MazeLayout::get("giant")).steps_per_episode, 2001);
}

}  // namespace
