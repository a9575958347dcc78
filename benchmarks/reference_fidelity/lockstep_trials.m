function lockstep_trials(reference_dir, shadow_dir, inputs_file, model_file, result_file, voltage_steps)
% One noise-free trial of input u at each scaling factor of INPUTS_FILE (uniform [N], factors,
% u [n_in, C]) through the original LIF_network_fnc: the rand/randn of SHADOW_DIR (ahead of the
% reference on the path) make it start from v = vreset + uniform*(30 - vreset) and add no voltage
% noise. The readouts, the spikes as (unit, step) pairs and the first VOLTAGE_STEPS voltages of each
% run go to RESULT_FILE. Driver of benchmarks/reference_fidelity.py.
more off;
warning('off', 'Octave:shadowed-function');
addpath(reference_dir);
addpath(shadow_dir);
global LOCKSTEP_UNIFORM
data = load(inputs_file);
LOCKSTEP_UNIFORM = data.uniform(:);
stims = struct('mode', 'none');
factors = data.factors(:)';
outs = [];
spikes = {};
volts = {};
for f = 1:numel(factors)
  [W, REC, spk, rs, all_fr, out, params] = LIF_network_fnc(model_file, factors(f), data.u, stims, 1, false);
  outs(f, 1:numel(out)) = out;
  [unit, step] = find(spk);
  spikes{f} = [unit, step];
  volts{f} = REC(:, 1:min(voltage_steps, size(REC, 2)));
end
dt = params.dt;
save('-7', result_file, 'outs', 'spikes', 'volts', 'dt');
end
