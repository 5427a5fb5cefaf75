import { App } from 'aws-cdk-lib';
import { addMedallionLake } from '../lib/app.ts';

addMedallionLake(new App());
