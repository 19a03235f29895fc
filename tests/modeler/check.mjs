// Prints, as JSON, the warnings bpmn.io's model layer gives when it reads each file.
import { BpmnModdle } from 'bpmn-moddle';
import { DmnModdle } from 'dmn-moddle';
import { readFileSync } from 'fs';
import { createRequire } from 'module';

const camunda = createRequire(import.meta.url)('camunda-bpmn-moddle/resources/camunda.json');
const result = {};
for (const file of process.argv.slice(2)) {
  const moddle = file.endsWith('.dmn') ? new DmnModdle() : new BpmnModdle({ camunda });
  const { warnings } = await moddle.fromXML(readFileSync(file, 'utf8'), file.endsWith('.dmn') ? 'dmn:Definitions' : undefined);
  result[file] = warnings.map(w => w.message);
}
console.log(JSON.stringify(result));
