"""svertka.analysis: seeing inside CNNs without training them.

* :func:`summary`: per layer, output shape, parameters, MACs and receptive field;
* :func:`receptive_field` (closed-form recurrence) and :func:`empirical_receptive_field`
  (measured with gradients);
* :func:`conv_output_size`, :func:`conv_transpose_output_size`: convolution arithmetic;
* :func:`conv_matrix`: a convolution as an explicit (sparse) matrix.
"""

from svertka.analysis.arithmetic import conv_output_size, conv_transpose_output_size
from svertka.analysis.conv_matrix import conv_matrix
from svertka.analysis.receptive_field import (
    ReceptiveField,
    empirical_receptive_field,
    layer_geometry,
    receptive_field,
)
from svertka.analysis.summary import LayerRow, Summary, layer_macs, summary

__all__ = ["summary", "Summary", "LayerRow", "layer_macs", "receptive_field",
           "empirical_receptive_field", "ReceptiveField", "layer_geometry", "conv_output_size",
           "conv_transpose_output_size", "conv_matrix"]
