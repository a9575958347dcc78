function reference_trials(reference_dir, inputs_file, model_file, result_file, seed, factor, window_start, stride, progress_every)
% Every trial of INPUTS_FILE (inputs [n, n_in, C], conditions [n]) through the original
% LIF_network_fnc at scaling factor FACTOR, with rand/randn seeded by SEED; per-trial summaries
% (readout max and mean from the 1-based LIF step WINDOW_START, correct, E and I rates in Hz, spike
% counts per unit, the readout every STRIDE steps, seconds) and trial 1's transferred parameters go
% to RESULT_FILE. Driver of benchmarks/reference_fidelity.py.
more off;
addpath(reference_dir);
data = load(inputs_file);
model = load(model_file, 'exc', 'inh');
exc_ind = find(model.exc);
inh_ind = find(model.inh);
rand('state', seed);
randn('state', seed);
stims = struct('mode', 'none');
n = size(data.inputs, 1);
n_in = size(data.inputs, 2);
n_cols = size(data.inputs, 3);
win_max = zeros(n, 1); win_mean = zeros(n, 1); correct = zeros(n, 1);
rate_exc = zeros(n, 1); rate_inh = zeros(n, 1); seconds = zeros(n, 1);
trace = zeros(n, n_cols - 1);
unit_counts = zeros(n, numel(model.exc));
for t = 1:n
  u = reshape(data.inputs(t, :, :), n_in, n_cols);
  tic;
  [W, REC, spk, rs, all_fr, out, params] = LIF_network_fnc(model_file, factor, u, stims, 1, false);
  seconds(t) = toc;
  window = out(window_start:end);
  win_max(t) = max(window);
  win_mean(t) = mean(window);
  if data.conditions(t) == 1
    correct(t) = win_max(t) > 0.7;
  else
    correct(t) = win_max(t) < 0.3;
  end
  counts = sum(spk, 2);
  unit_counts(t, :) = counts';
  rate_exc(t) = mean(counts(exc_ind)) / params.T;
  rate_inh(t) = mean(counts(inh_ind)) / params.T;
  trace(t, :) = out(stride:stride:end);
  if t == 1
    W_first = W; td_first = params.td; w_out_first = params.w_out; T = params.T; dt = params.dt;
  end
  if mod(t, progress_every) == 0 || t == n
    fprintf('  octave s=%g: trial %d/%d (%.2f s/trial)\n', factor, t, n, mean(seconds(1:t)));
    fflush(stdout);
  end
end
save('-7', result_file, 'win_max', 'win_mean', 'correct', 'rate_exc', 'rate_inh', 'unit_counts', ...
     'trace', 'seconds', 'W_first', 'td_first', 'w_out_first', 'T', 'dt');
end
