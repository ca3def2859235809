package dev.lora4j.cli;

import dev.lora4j.models.base.ModuleKind;
import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;

/**
 * The rank of every module as two heat maps side by side, as trained and after pruning: layers
 * across, module types down, the rank written in each cell (0 where nothing is adapted or every
 * rank was pruned). One glance shows where the adapter kept its capacity.
 */
final class RankPlot {
  private static final Color[] SCALE = {new Color(0xF7FBFF), new Color(0x9ECAE1), new Color(0x4292C6)};

  private RankPlot() {}

  static byte[] png(String adapter, int layers, Map<String, Integer> before, Map<String, Integer> after) {
    return png(adapter, layers, before, after, "rank after pruning");
  }

  /** {@code afterTitle} names what made the right-hand ranks, e.g. pruning and an export budget. */
  static byte[] png(String adapter, int layers, Map<String, Integer> before, Map<String, Integer> after,
      String afterTitle) {
    int max = Math.max(1, before.values().stream().mapToInt(Integer::intValue).max().orElse(1));
    List<HeatMapChart> charts = List.of(
        chart(adapter + ": rank as trained", layers, before, max),
        chart(adapter + ": " + afterTitle, layers, after, max));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      BitmapEncoder.saveBitmap(charts, 1, 2, out, BitmapEncoder.BitmapFormat.PNG);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private static HeatMapChart chart(String title, int layers, Map<String, Integer> ranks, int max) {
    HeatMapChart c = new HeatMapChartBuilder().width(560).height(340).title(title)
        .xAxisTitle("layer").yAxisTitle("module").build();
    List<Integer> x = new ArrayList<>();
    for (int l = 0; l < layers; l++) {
      x.add(l);
    }
    List<String> y = Arrays.stream(ModuleKind.values()).map(ModuleKind::shortName).toList();
    int[][] grid = new int[layers][ModuleKind.values().length];
    ranks.forEach((module, rank) -> {
      int layer = ModuleKind.layerOf(module).orElse(layers);
      if (layer < layers) {
        grid[layer][ModuleKind.ofModule(module).ordinal()] = rank;
      }
    });
    List<Number[]> cells = new ArrayList<>();
    for (int l = 0; l < layers; l++) {
      for (int k = 0; k < grid[l].length; k++) {
        cells.add(new Number[] {l, k, grid[l][k]});
      }
    }
    c.addSeries("rank", x, y, cells);
    c.getStyler().setShowValue(true).setMin(0).setMax(max).setRangeColors(SCALE).setDrawBorder(true)
        .setHeatMapValueDecimalPattern("0");
    c.getStyler().setLegendVisible(false);
    c.getStyler().setChartBackgroundColor(Color.WHITE);
    c.getStyler().setPlotGridLinesVisible(false);
    return c;
  }
}
